"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

import os
import shutil

import pytest
from live_server import Server, build_collection

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian chromium is not installed here"
)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_captioner_dir):
    root = tmp_path_factory.mktemp("web")
    server = Server(build_collection(str(root)), CLIPDEX_CAPTIONER=tiny_captioner_dir)
    yield str(root), server.url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site):
    # The tests read the page with scripts of their own (wait_for_function evaluates them),
    # which the page's Content-Security-Policy forbids; test_the_page_works_under_its_own_
    # content_security_policy checks the page itself under it.
    page = browser.new_page(bypass_csp=True)
    page.goto(site[1] + "/")
    yield page
    page.close()


def _cards(page):
    page.wait_for_selector("#results .hit")
    return page.locator("#results .hit")


def test_text_search_shows_a_grid_of_thumbnails_with_scores(page):
    page.fill("#query", "a holiday photo")
    page.click("#search-button")
    cards = _cards(page)
    assert cards.count() == 12  # every indexed image, fewer than a page
    page.wait_for_function("Array.from(document.querySelectorAll('#results img')).every(i => i.complete && i.naturalWidth > 0)")
    scores = [float(t) for t in cards.locator(".score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert "results for" in page.inner_text("#status")


def test_captions_show_under_results_when_asked_for(page, site):
    import httpx

    page.fill("#query", "a holiday photo")
    page.click("#search-button")
    assert _cards(page).locator(".caption").count() == 0  # off by default: no captioning cost
    page.check("#captions")
    page.click("#search-button")
    page.wait_for_selector("#results .hit .caption")
    cards = page.locator("#results .hit")
    shown = dict(zip([int(i) for i in cards.evaluate_all("cs => cs.map(c => c.dataset.id)")],
                     cards.locator(".caption").all_inner_texts()))
    assert len(shown) == cards.count() == 12
    ids = list(shown)[:5]
    written = httpx.post(site[1] + "/v1/caption", data={"ids": [str(i) for i in ids]}, timeout=60).json()["captions"]
    assert [shown[i] for i in ids] == [c["caption"] for c in written]  # the captioner's words, as text


def test_clicking_a_result_searches_by_it(page):
    page.fill("#query", "anything")
    page.click("#search-button")
    cards = _cards(page)
    third = cards.nth(2)
    name = third.locator("img").get_attribute("alt").split("/")[-1]
    third.click()
    page.wait_for_function(f"document.querySelector('#status').textContent.includes('results for images like {name}')")
    first = page.locator("#results .hit").first
    assert first.locator("img").get_attribute("alt").endswith(name)
    assert float(first.locator(".score").inner_text()) > 0.999


def test_upload_and_drop_search_by_image(page, site):
    path = os.path.join(site[0], "photos", "trip", "photo_0004.jpg")
    page.set_input_files("#upload", path)
    page.wait_for_function("document.querySelector('#status').textContent.includes('results for photo_0004.jpg')")
    assert page.locator("#results .hit").first.locator("img").get_attribute("alt") == path

    page.evaluate("document.querySelector('#results').replaceChildren()")
    data = list(open(os.path.join(site[0], "photos", "trip", "photo_0001.jpg"), "rb").read())
    page.evaluate(
        """bytes => {
            const file = new File([new Uint8Array(bytes)], 'dropped.jpg', {type: 'image/jpeg'});
            const transfer = new DataTransfer();
            transfer.items.add(file);
            document.querySelector('#drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer}));
        }""",
        data,
    )
    page.wait_for_function("document.querySelector('#status').textContent.includes('results for dropped.jpg')")
    assert page.locator("#results .hit").first.locator("img").get_attribute("alt").endswith("photo_0001.jpg")


def test_errors_are_shown_not_swallowed(page, site):
    page.set_input_files("#upload", os.path.join(site[0], "photos", "junk", "text.jpg"))
    page.wait_for_selector("#status.error")
    assert "not an image" in page.inner_text("#status")
    page.fill("#query", "   ")
    page.click("#search-button")
    assert "type something" in page.inner_text("#status")


def test_the_page_works_when_reads_need_the_key(browser, site, tmp_path):
    import shutil as sh

    from live_server import API_KEY

    data = str(tmp_path / "copy")
    sh.copytree(os.path.join(site[0], "data"), data)
    locked = Server(data, CLIPDEX_API_KEY=API_KEY, CLIPDEX_REQUIRE_KEY_FOR_READS="true")
    page = browser.new_page(bypass_csp=True)
    try:
        page.goto(locked.url + "/")
        page.fill("#query", "anything")
        page.click("#search-button")
        page.wait_for_selector("#status.error")
        assert "API key" in page.inner_text("#status")
        page.click("details.key summary")
        page.fill("#api-key", API_KEY)
        page.dispatch_event("#api-key", "change")
        page.click("#search-button")
        page.wait_for_selector("#results .hit")
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#results img')).every(i => i.complete && i.naturalWidth > 0)")
    finally:
        page.close()
        locked.stop()


def test_the_page_works_under_its_own_content_security_policy(browser, site):
    page = browser.new_page()  # the policy enforced: no test scripts are run in the page
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    try:
        response = page.goto(site[1] + "/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        page.fill("#query", "a holiday photo")
        page.click("#search-button")
        page.wait_for_selector("#results .hit img")
        page.locator("#results .hit").first.wait_for()
        assert page.locator("#results .hit").count() == 12
        assert refused == []
    finally:
        page.close()


@pytest.mark.parametrize("path, shown", [("/docs", ".swagger-ui .opblock"), ("/redoc", "[role=navigation], .menu-content")])
def test_the_api_docs_work_offline(browser, site, path, shown):
    page = browser.new_page()
    asked = []
    # What the docs need to work (ReDoc's own logo is an image from its CDN: refused, not needed)
    page.on("request", lambda request: asked.append(request.url) if request.resource_type in (
        "document", "script", "stylesheet", "fetch", "xhr", "font") else None)
    try:
        response = page.goto(site[1] + path)
        assert "cdn" not in response.headers["content-security-policy"]
        page.wait_for_selector(shown, timeout=30_000)
        assert "/v1/search/text" in page.content()
        assert all(url.startswith(site[1]) or url.startswith(("data:", "blob:")) for url in asked), asked
    finally:
        page.close()
