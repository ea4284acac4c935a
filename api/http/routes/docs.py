"""The API's own documentation pages, /docs (Swagger UI) and /redoc (ReDoc), working offline:
their scripts and styles come from the package `fastapi-offline` ships them in, served here,
never from a CDN."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse

from api.http.errors import ApiError

router = APIRouter(include_in_schema=False)
ASSETS = "/docs-assets"
_MEDIA = {"swagger-ui-bundle.js": "text/javascript", "redoc.standalone.js": "text/javascript",
          "swagger-ui.css": "text/css", "favicon.png": "image/png"}
TITLE = "clipdex API"


def _assets_folder() -> str | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    return os.path.join(os.path.dirname(fastapi_offline.__file__), "static")


@router.get("/docs")
async def swagger_ui():
    return get_swagger_ui_html(openapi_url="/openapi.json", title=TITLE,
                               swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon.png")


@router.get("/redoc")
async def redoc():
    return get_redoc_html(openapi_url="/openapi.json", title=TITLE, redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)


@router.get(ASSETS + "/{name}")
async def asset(name: str):
    folder = _assets_folder()
    if name not in _MEDIA:
        raise ApiError(404, f"no documentation asset {name!r}")
    if folder is None:
        raise ApiError(404, "the documentation assets are not installed: pip install fastapi-offline")
    return FileResponse(os.path.join(folder, name), media_type=_MEDIA[name],
                        headers={"Cache-Control": "public, max-age=86400"})
