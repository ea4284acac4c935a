"""Debian's Chromium driven by Playwright: where it is, how it starts, and the page fixtures
the browser tests share (a site over a built collection, one browser, a fresh page)."""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
# On CI a missing Chromium fails (.ci/run installs it); elsewhere the browser tests skip.
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason="Debian chromium is not installed here")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
