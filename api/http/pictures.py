"""Pictures a request names: uploads and ids of indexed images, read within the limits; one
that cannot be read is an item with an error, and costs the others nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import UploadFile
from pydantic import Field

from api.http.deps import ServiceState, read_upload
from api.http.errors import ApiError
from api.http.schemas import MAX_ID
from indexer.store import OK

MAX_ITEMS = 32  # pictures per request
FormId = Annotated[int, Field(ge=1, le=MAX_ID)]  # form fields are text: "7" is an id here


async def read_uploads(files: list[UploadFile], state: ServiceState):
    """(images, their items) of the uploads that decode; the others become failed items."""
    images, items = [], []
    for upload in files:
        item = {"filename": upload.filename}
        try:
            images.append((await read_upload(upload, state.settings)).image)
            items.append(item)
        except ApiError as exc:
            items.append({**item, "error": exc.message})
    return images, items


def indexed_rows(state: ServiceState, ids: list[int]):
    """(rows of the indexed images, {id: why not} for the others)."""
    rows, missing = [], {}
    for image_id in ids:
        row = state.collection.store.get_row(image_id)
        if row is None or row["status"] != OK:
            missing[image_id] = f"no indexed image with id {image_id}"
        else:
            rows.append(row)
    return rows, missing


def check_count(files, ids, doing: str) -> None:
    count = len(files or []) + len(ids or [])
    if count == 0:
        raise ApiError(422, f"give images to {doing}: upload files, or ids of indexed images")
    if count > MAX_ITEMS:
        raise ApiError(422, f"at most {MAX_ITEMS} images per request (got {count})")
