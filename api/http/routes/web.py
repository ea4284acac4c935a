"""The web page at / and its scripts and style (web/: plain HTML, CSS and JavaScript modules)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
_TYPES = {".js": "text/javascript", ".css": "text/css"}
# The page's scripts and style, listed once at start: no path from the client reaches the disk.
_FILES = {name: _TYPES[os.path.splitext(name)[1]] for name in os.listdir(WEB_DIR) if os.path.splitext(name)[1] in _TYPES}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(os.path.join(WEB_DIR, "index.html"), media_type="text/html")


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    from api.http.errors import ApiError

    if name not in _FILES:
        raise ApiError(404, f"no such file: {name}")
    return FileResponse(os.path.join(WEB_DIR, name), media_type=_FILES[name])
