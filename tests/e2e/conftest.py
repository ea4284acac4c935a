import pytest
from chromium import launch
from live_server import Server, build_collection


@pytest.fixture(scope="session")
def site(tmp_path_factory, tiny_captioner_dir):
    """A server over a built collection (photos, PNGs, dated files, bad files), with a tiny
    captioner: shared by the browser tests, which only read it."""
    root = tmp_path_factory.mktemp("web")
    server = Server(build_collection(str(root)), CLIPDEX_CAPTIONER=tiny_captioner_dir)
    yield str(root), server.url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module: Playwright's sync API runs an event loop in this thread
    while it is open, which asyncio.run() in later tests (other modules) must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
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
