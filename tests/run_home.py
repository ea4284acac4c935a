"""The test run's own home: caches, the collection indexed last and Ray's token land in a
temporary folder (subprocesses inherit it), never in the user's. Imported by conftest.py
first thing, and by tests that check it."""

import os
import tempfile

REAL_HOME = os.path.expanduser("~")
TEST_HOME = tempfile.mkdtemp(prefix="clipdex-test-home-")
os.environ["HOME"] = TEST_HOME
os.environ["XDG_CACHE_HOME"] = os.path.join(TEST_HOME, ".cache")
