"""Headers on every response that keep a browser from treating what the server sends as
something else: no content-type sniffing (an HTML file named .png stays an image or
nothing), and a Content-Security-Policy that lets the page load only its own scripts and
styles, and nothing frame it. The API docs (Swagger UI and ReDoc, served by this server,
routes/docs.py) may run their inline start-up script and styles, nothing from elsewhere."""

from __future__ import annotations

PAGE_POLICY = ("default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOCS_POLICY = ("default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = DOCS_POLICY if scope["path"].startswith(DOCS_PATHS) else PAGE_POLICY

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"x-content-type-options", b"content-security-policy")]
                headers += [(b"x-content-type-options", b"nosniff"), (b"content-security-policy", policy.encode()),
                            (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
