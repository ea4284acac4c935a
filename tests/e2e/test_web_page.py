"""The page as a person uses it, in Chromium: the viewer and its keys and actions, filters
that change the results and the URL (a shared link restores the search, back and forward
work), the collection panel, re-indexing with a progress bar, duplicates, a server that
went away, a phone's width and the dark theme. Screenshots of the main views go to
$CLIPDEX_SCREENSHOTS (default: a folder in pytest's temp dir) for a person to look at."""

import os
import shutil

import httpx
import pytest
from chromium import needs_chromium
from imagefiles import write_photos
from live_server import API_KEY, Server, build_collection

pytestmark = needs_chromium
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = os.environ.get("CLIPDEX_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


def _search(page, query="a holiday photo"):
    page.fill("#query", query)
    page.click("#search-button")
    page.wait_for_selector("#results .hit")
    return page.locator("#results .hit")


def _ids(page):
    return page.locator("#results .hit").evaluate_all("cards => cards.map(c => Number(c.dataset.id))")


def test_the_viewer_moves_with_the_keys_and_answers_what_is_asked(page, site, screenshots):
    cards = _search(page)
    order = _ids(page)
    cards.nth(1).focus()
    page.keyboard.press("Enter")  # the keyboard opens a result as a click does
    page.wait_for_selector("#viewer[open]")
    assert page.inner_text("#viewer-position") == f"2 of {len(order)}"
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#viewer-position") == f"3 of {len(order)}"
    assert page.inner_text("#viewer-title") == cards.nth(2).get_attribute("data-path").split("/")[-1]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#viewer-position") == f"1 of {len(order)}"
    assert page.locator("#viewer-prev").is_disabled()

    page.fill("#classify-labels", "a beach, a city at night, a forest")
    page.click("#classify-form button")
    page.wait_for_selector("#viewer-answers li")
    answers = page.locator("#viewer-answers li").all_inner_texts()
    assert len(answers) == 3 and all("%" in a for a in answers)
    shares = [float(a.split("%")[0]) for a in answers]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 100) < 0.5

    page.click("#viewer-caption-button")  # the server's (tiny, random) captioner's words, as text
    page.wait_for_function("document.querySelector('#viewer-message').textContent.startsWith('captioned by')")
    written = httpx.post(site[1] + "/v1/caption", data={"ids": [str(order[0])]}, timeout=60).json()["captions"]
    assert page.text_content("#viewer-caption") == written[0]["caption"]
    page.click("#viewer-texts")  # image→text over the collection's texts: none were added
    page.wait_for_function("document.querySelector('#viewer-message').textContent.includes('no texts')")
    assert page.get_attribute("#viewer-original", "href") == f"/v1/images/{order[0]}"
    page.screenshot(path=os.path.join(screenshots, "viewer-1280.png"))

    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#viewer').open")
    # Focus comes back to the result that was shown last (on the dialog's close event, which
    # comes a task after the dialog shuts and gives focus back to the tile that opened it)
    page.wait_for_function(f"document.activeElement.dataset.id === '{order[0]}'", timeout=5000)


def test_filters_change_the_results_and_the_url_and_a_shared_link_restores_them(page, site, browser, screenshots):
    _search(page, "anything")
    everything = _ids(page)
    assert len(everything) == 12
    page.click("#filters-button")
    page.wait_for_selector("#types input[value=png]")
    assert set(page.locator("#types input").evaluate_all("boxes => boxes.map(b => b.value)")) == {"jpg", "png"}
    page.check("#types input[value=png]")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 4")
    paths = page.locator("#results .hit").evaluate_all("cards => cards.map(c => c.dataset.path)")
    assert all(p.endswith(".png") for p in paths)
    assert "type=png" in page.url and "q=anything" in page.url
    page.fill("#date-from", "2022-01-01")  # EXIF date taken: only one picture is that recent
    page.uncheck("#types input[value=png]")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 1")
    assert page.locator("#results .hit").first.get_attribute("data-path").endswith("dated_2023.jpg")
    page.screenshot(path=os.path.join(screenshots, "filters-1280.png"))

    shared = page.url
    other = browser.new_page(bypass_csp=True)
    try:  # the link alone gives the same search, controls and all
        other.goto(shared)
        other.wait_for_function("document.querySelectorAll('#results .hit').length === 1")
        assert other.input_value("#query") == "anything" and other.input_value("#date-from") == "2022-01-01"
    finally:
        other.close()

    page.go_back()  # before the PNG box was unticked: PNGs taken since 2022, none
    page.wait_for_function("document.querySelector('#status').textContent.includes('no results')")
    assert page.input_value("#date-from") == "2022-01-01" and page.is_checked("#types input[value=png]")
    page.go_back()  # before the date: the PNGs again
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 4")
    assert page.input_value("#date-from") == ""
    page.go_back()
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 12")
    page.go_forward()
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 4")

    page.fill("#min-score", "1")  # no score is that high: said, not a blank page
    page.press("#min-score", "Enter")
    page.wait_for_function("document.querySelector('#status').textContent.includes('no results')")
    assert "min=1" in page.url


def test_the_collection_panel_says_what_the_collection_holds(page, screenshots):
    page.wait_for_function("document.querySelector('#summary').textContent.includes('12 images')")
    assert "4 failed" in page.inner_text("#summary")
    page.click("#collection-button")
    page.wait_for_selector("#collection[open] #failures li")
    facts = page.inner_text("#collection-facts")
    for shown in ("images indexed", "random:clipdex-tiny", "flat", "jpg 8, png 4", "last indexed"):
        assert shown in facts, facts
    failures = page.locator("#failures li").all_inner_texts()
    assert len(failures) == 4 and all("junk" in f and ": " in f for f in failures)
    # No key given: re-indexing is offered but needs it, and says so
    assert page.locator("#reindex").is_disabled() and "API key" in page.get_attribute("#reindex", "title")
    page.screenshot(path=os.path.join(screenshots, "collection-1280.png"))


@pytest.fixture
def own_site(tmp_path):
    """A collection of this test's own, served with an API key, that the test changes."""
    data = build_collection(str(tmp_path))
    server = Server(data, CLIPDEX_API_KEY=API_KEY)
    yield str(tmp_path), server
    server.stop()


def test_reindex_moves_its_bar_updates_the_grid_and_duplicates_are_grouped(browser, own_site, screenshots):
    root, server = own_site
    page = browser.new_page(bypass_csp=True)
    try:
        page.goto(server.url + "/")
        page.click("details.key summary")
        page.fill("#api-key", API_KEY)
        page.dispatch_event("#api-key", "change")
        _search(page, "anything")
        assert len(_ids(page)) == 12
        trip = os.path.join(root, "photos", "trip")
        write_photos(trip, 3, start=300)
        shutil.copy(os.path.join(trip, "photo_0001.jpg"), os.path.join(trip, "copy of photo_0001.jpg"))
        page.click("#collection-button")
        page.click("#reindex")
        page.wait_for_function("document.querySelector('#reindex-status').textContent.startsWith('done')",
                               timeout=120_000)
        assert "done: 4 new, 0 changed, 0 removed, 0 failed" in page.inner_text("#reindex-status")
        value, most = page.evaluate("[document.querySelector('#reindex-progress').value, "
                                    "document.querySelector('#reindex-progress').max]")
        assert value == most > 0
        page.wait_for_function("document.querySelector('#collection-facts').textContent.includes('16')")
        page.click("#collection-close")
        page.wait_for_function("document.querySelectorAll('#results .hit').length === 16")  # the grid, updated

        page.click("#duplicates-button")
        page.wait_for_selector("#duplicate-groups .group")
        groups = page.locator("#duplicate-groups .group")
        members = [groups.nth(i).locator(".hit").evaluate_all("cards => cards.map(c => c.dataset.path)")
                   for i in range(groups.count())]
        pair = next(m for m in members if any(p.endswith("copy of photo_0001.jpg") for p in m))
        assert any(p.endswith("trip/photo_0001.jpg") for p in pair)
        page.screenshot(path=os.path.join(screenshots, "duplicates-1280.png"))

        server.stop()  # the server goes away: the page says so
        page.click("#back-to-results")
        page.fill("#query", "anything else")
        page.click("#search-button")
        page.wait_for_selector("#status.error")
        assert "cannot reach" in page.inner_text("#status") and page.locator("#results .hit").count() == 0
    finally:
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_phone_width_and_both_themes(browser, site, screenshots, scheme):
    page = browser.new_page(viewport=PHONE, color_scheme=scheme, bypass_csp=True, device_scale_factor=1)
    try:
        page.goto(site[1] + "/?q=a+holiday+photo")
        page.wait_for_selector("#results .hit img")
        page.wait_for_function("Array.from(document.querySelectorAll('#results img')).every(i => i.complete)")
        # Nothing wider than the phone: no sideways scrolling; two columns of tiles
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        boxes = [page.locator("#results .hit").nth(i).bounding_box() for i in range(2)]
        assert boxes[0]["y"] == boxes[1]["y"] and boxes[1]["x"] + boxes[1]["width"] <= PHONE["width"]
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(c) for c in background[background.index("(") + 1:-1].split(",")[:3]]
        assert (sum(channels) < 150) == (scheme == "dark"), background
        page.screenshot(path=os.path.join(screenshots, f"results-390-{scheme}.png"))
        page.locator("#results .hit").first.click()
        page.wait_for_selector("#viewer[open]")
        assert page.evaluate("document.querySelector('#viewer').getBoundingClientRect().right") <= PHONE["width"]
        page.screenshot(path=os.path.join(screenshots, f"viewer-390-{scheme}.png"))
        if scheme == "light":
            page.set_viewport_size(DESKTOP)
            page.keyboard.press("Escape")
            page.screenshot(path=os.path.join(screenshots, "results-1280.png"))
    finally:
        page.close()
