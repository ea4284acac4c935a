"""The web page at /: a search box, image upload and a results grid."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
_FILES = {"app.js": "text/javascript", "style.css": "text/css"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(os.path.join(WEB_DIR, "index.html"), media_type="text/html")


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    from api.http.errors import ApiError

    if name not in _FILES:  # a fixed list: no path from the client reaches the disk
        raise ApiError(404, f"no such file: {name}")
    return FileResponse(os.path.join(WEB_DIR, name), media_type=_FILES[name])
