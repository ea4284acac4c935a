"""Indexed images by id: the file itself, a thumbnail, and its metadata. Never by path.

Only a file that was indexed as an image is sent, and only while it still is the file that
was indexed: the row is ``ok``, the path (links resolved) lies in the indexed folders
(unless the collection follows links out of them), size and modification time are the
row's, and its bytes still open as an image, whose own format names the content type.
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from api.http.deps import Paths, ServiceState, State
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.schemas import ImageInfo, ImageText, PathId, RegionOut, exif_date
from indexer.ocr import text_of_file
from indexer.store import OK
from indexer.thumbnails import make_thumbnail, thumbnail_path
from retrieval.images.decode import ImageError, probe_image
from retrieval.ocr import full_text

router = APIRouter(prefix="/v1/images", tags=["images"], responses=ERROR_RESPONSES)
_IMAGE_RESPONSE = {200: {"content": {"image/*": {}}, "description": "the image"}}


def _row(state: ServiceState, image_id: int) -> dict:
    row = state.collection.store.get_row(image_id)
    if row is None:
        raise ApiError(404, f"no image with id {image_id}")
    return row


def _servable(state: ServiceState, row: dict) -> None:
    """Refuse (404) a row that is no indexed image, or whose file left the indexed folders."""
    if row["status"] != OK:
        raise ApiError(404, f"image {row['id']} is not indexed ({row['status']}): nothing to serve")
    if not state.collection.holds_path(row["path"]):
        raise ApiError(404, f"image {row['id']} is outside the indexed folders now: not served")


def _indexed_bytes(state: ServiceState, row: dict) -> tuple[bytes, str]:
    """(the file's bytes, their content type) while the file is the one indexed."""
    _servable(state, row)
    try:
        with open(row["path"], "rb") as handle:
            info = os.fstat(handle.fileno())
            if (info.st_size, info.st_mtime_ns) != (row["size"], row["mtime_ns"]):
                raise ApiError(404, f"image {row['id']} changed since it was indexed: re-index to serve it")
            data = handle.read()
    except FileNotFoundError:
        raise ApiError(404, f"image {row['id']} is no longer on disk") from None
    except OSError as exc:
        raise ApiError(404, f"image {row['id']} cannot be read: {exc.strerror or exc}") from None
    try:
        header = probe_image(data, state.settings.max_image_pixels)
    except ImageError as exc:
        raise ApiError(404, f"image {row['id']} is not an image any more: {exc}") from None
    return data, Image.MIME.get(header.format or "", "application/octet-stream")


@router.get("/{image_id}", response_class=Response, responses=_IMAGE_RESPONSE, summary="The image file")
async def image_file(state: State, image_id: PathId):
    row = await run_in_threadpool(_row, state, image_id)
    data, media_type = await run_in_threadpool(_indexed_bytes, state, row)
    return Response(data, media_type=media_type)


@router.get("/{image_id}/thumbnail", response_class=FileResponse, responses=_IMAGE_RESPONSE, summary="A small JPEG preview")
async def image_thumbnail(state: State, image_id: PathId):
    row = await run_in_threadpool(_row, state, image_id)
    await run_in_threadpool(_servable, state, row)
    dest = thumbnail_path(state.collection.data_dir, image_id, row["mtime_ns"])
    try:
        await run_in_threadpool(make_thumbnail, row["path"], dest, state.settings.max_image_pixels)
    except FileNotFoundError:
        raise ApiError(404, f"image {image_id} is no longer on disk") from None
    except (OSError, ImageError) as exc:
        raise ApiError(404, f"image {image_id} cannot be read any more: {exc}") from None
    return FileResponse(dest, media_type="image/jpeg")


@router.get("/{image_id}/info", response_model=ImageInfo, summary="What the collection knows about an image")
async def image_info(state: State, paths: Paths, image_id: PathId) -> ImageInfo:
    row = await run_in_threadpool(_row, state, image_id)
    return ImageInfo(
        id=row["id"],
        path=paths.show(row["path"]),
        status=row["status"],
        error=row["error"],
        width=row["width"],
        height=row["height"],
        date=exif_date(row["taken_at"]),
        size=row["size"],
        image_url=f"/v1/images/{row['id']}",
        thumbnail_url=f"/v1/images/{row['id']}/thumbnail",
    )


@router.get("/{image_id}/text", response_model=ImageText, summary="The text read in an indexed image (OCR)")
async def image_text(state: State, image_id: PathId) -> ImageText:
    row = await run_in_threadpool(_row, state, image_id)
    engine, reading = await run_in_threadpool(text_of_file, state.collection, row["id"])
    if reading is None:
        return ImageText(id=row["id"], engine=engine, status="unread", text="", lines=[])
    return ImageText(id=row["id"], engine=engine, status="failed" if reading.error else "read",
                     text=full_text(reading.lines), lines=[RegionOut(**line.as_dict()) for line in reading.lines],
                     error=reading.error)
