"""The HTTP API (FastAPI) and the web page.

Modules (test file in brackets):

- app.py           create_app: the collection and model opened once, routers included (tests/e2e/test_http.py)
- deps.py          the service state and the typed dependencies routes declare: State, ReadyEncoder (tests/e2e/test_http.py)
- routes/          one router per area: search, images, classify, texts, captions, locate, collection, duplicates, web
- schemas.py       request and response models (tests/e2e/test_openapi_fuzz.py)
- errors.py        every error as JSON {"error": {code, message, detail}} (tests/e2e/test_openapi_fuzz.py)
- security_headers.py nosniff and a Content-Security-Policy on every response (tests/e2e/test_hostile.py)
- body_limit.py    a hard cap on request bodies, counted as they arrive (tests/e2e/test_http.py)
- model_cache.py   the encoder, captioner and re-ranker, loaded on first use, unloaded when idle (tests/e2e/test_http.py)
- text_batcher.py  concurrent text queries share one encoder call (tests/unit/api/test_text_batcher.py)
- captioning.py    the service's captioner and the captions of hits within a time budget (tests/e2e/test_captions_http.py)
- locating.py      the dense or VLM locator of a request; search hits given their boxes and heat maps (tests/e2e/test_show_where.py)
- pictures.py      the uploads and indexed ids a request names, read within the limits (tests/e2e/test_captions_http.py)
- jobs.py          background jobs (re-index) with progress (tests/e2e/test_http.py)
- web/             the page at /: HTML, CSS and JavaScript, no build step (tests/e2e/test_browser.py)
"""
