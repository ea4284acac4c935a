"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

import os
import re

import pytest
from chromium import needs_chromium
from live_server import Server

pytestmark = needs_chromium


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


def test_a_result_opens_the_viewer_and_similar_images_searches_by_it(page):
    page.fill("#query", "anything")
    page.click("#search-button")
    third = _cards(page).nth(2)
    path = third.get_attribute("data-path")
    third.click()
    page.wait_for_selector("#viewer[open]")
    assert page.inner_text("#viewer-title") == path.split("/")[-1]
    facts = page.inner_text("#viewer-facts")
    assert path in facts and re.search(r"\d+ × \d+", facts)
    page.wait_for_function("document.querySelector('#viewer-facts').textContent.includes('kB')")  # the file's size
    page.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")  # the picture itself
    page.click("#viewer-similar")
    page.wait_for_function(f"document.querySelector('#status').textContent.includes('results for images like {path.split('/')[-1]}')")
    assert not page.locator("#viewer").evaluate("d => d.open")
    first = page.locator("#results .hit").first
    assert first.get_attribute("data-path") == path
    assert float(first.locator(".score").inner_text()) > 0.999
    assert "like=" in page.url
    page.go_back()  # back to the text search it came from
    page.wait_for_function("document.querySelector('#status').textContent.includes('results for “anything”')")
    assert page.input_value("#query") == "anything" and "q=anything" in page.url


def test_upload_and_drop_search_by_image(page, site):
    path = os.path.join(site[0], "photos", "trip", "photo_0004.jpg")
    page.set_input_files("#upload", path)
    page.wait_for_function("document.querySelector('#status').textContent.includes('results for photo_0004.jpg')")
    assert page.locator("#results .hit").first.get_attribute("data-path") == path

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
    assert page.locator("#results .hit").first.get_attribute("data-path").endswith("photo_0001.jpg")


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
