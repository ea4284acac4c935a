"""Indexed images by id: the file itself, a thumbnail, and its metadata. Never by path."""

from __future__ import annotations

import mimetypes
import os

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import ServiceState, State
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.schemas import MAX_ID, ImageInfo, display_path, exif_date
from indexer.store import OK
from indexer.thumbnails import make_thumbnail, thumbnail_path
from retrieval.images.decode import ImageError

router = APIRouter(prefix="/v1/images", tags=["images"], responses=ERROR_RESPONSES)
_IMAGE_RESPONSE = {200: {"content": {"image/*": {}}, "description": "the image"}}


def _row(state: ServiceState, image_id: int) -> dict:
    row = state.collection.store.get_row(image_id)
    if row is None:
        raise ApiError(404, f"no image with id {image_id}")
    return row


@router.get("/{image_id}", response_class=FileResponse, responses=_IMAGE_RESPONSE, summary="The image file")
async def image_file(state: State, image_id: int = Path(ge=1, le=MAX_ID)):
    row = await run_in_threadpool(_row, state, image_id)
    if not os.path.isfile(row["path"]):
        raise ApiError(404, f"image {image_id} is no longer on disk")
    media_type = mimetypes.guess_type(display_path(row["path"]))[0]
    return FileResponse(row["path"], media_type=media_type or "application/octet-stream")


@router.get("/{image_id}/thumbnail", response_class=FileResponse, responses=_IMAGE_RESPONSE, summary="A small JPEG preview")
async def image_thumbnail(state: State, image_id: int = Path(ge=1, le=MAX_ID)):
    row = await run_in_threadpool(_row, state, image_id)
    if row["status"] != OK:
        raise ApiError(404, f"image {image_id} is not indexed ({row['status']}): no thumbnail")
    dest = thumbnail_path(state.collection.data_dir, image_id, row["mtime_ns"])
    try:
        await run_in_threadpool(make_thumbnail, row["path"], dest, state.settings.max_image_pixels)
    except FileNotFoundError:
        raise ApiError(404, f"image {image_id} is no longer on disk") from None
    except (OSError, ImageError) as exc:
        raise ApiError(404, f"image {image_id} cannot be read any more: {exc}") from None
    return FileResponse(dest, media_type="image/jpeg")


@router.get("/{image_id}/info", response_model=ImageInfo, summary="What the collection knows about an image")
async def image_info(state: State, image_id: int = Path(ge=1, le=MAX_ID)) -> ImageInfo:
    row = await run_in_threadpool(_row, state, image_id)
    return ImageInfo(
        id=row["id"],
        path=display_path(row["path"]),
        status=row["status"],
        error=row["error"],
        width=row["width"],
        height=row["height"],
        date=exif_date(row["taken_at"]),
        size=row["size"],
        image_url=f"/v1/images/{row['id']}",
        thumbnail_url=f"/v1/images/{row['id']}/thumbnail",
    )
