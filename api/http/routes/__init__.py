"""HTTP routers, one file per area, all under /v1 (the page at /).

Modules (test file in brackets):

- search.py      text->image, image->image (upload or id), image->text; hybrid, re-rank, captions (tests/e2e/test_http.py)
- images.py      an indexed image by id: the file, a thumbnail, its metadata (tests/e2e/test_http.py)
- classify.py    zero-shot labels of indexed or uploaded images (tests/e2e/test_http.py)
- texts.py       adding and removing texts for image->text search (tests/e2e/test_http.py)
- captions.py    captions of uploads or indexed images, answers to questions (tests/e2e/test_captions_http.py)
- locate.py      where a phrase is in uploaded or indexed images; zero-shot detection (tests/e2e/test_show_where.py)
- collection.py  health, readiness, stats, the re-index job (tests/e2e/test_http.py)
- duplicates.py  groups of near-duplicates (tests/e2e/test_http.py)
- docs.py        /docs and /redoc, offline: Swagger UI and ReDoc served from the package (tests/e2e/test_browser.py)
- web.py         the page and its assets (tests/e2e/test_browser.py)
"""
