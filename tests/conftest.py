import os
import shutil
import tempfile

# No test touches the network: model loading must work from local files only.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Nor the user's home: caches, the collection indexed last, Ray's token all land in a home
# of the test run's own (subprocesses inherit it), removed at the end.
REAL_HOME = os.path.expanduser("~")
TEST_HOME = tempfile.mkdtemp(prefix="clipdex-test-home-")
os.environ["HOME"] = TEST_HOME
os.environ["XDG_CACHE_HOME"] = os.path.join(TEST_HOME, ".cache")

import pytest  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_HOME, ignore_errors=True)

TINY = "random:clipdex-tiny"


@pytest.fixture(scope="session")
def tiny_model():
    from retrieval.models import load_model

    return load_model(TINY)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model):
    from retrieval.encoders import TorchEncoder

    return TorchEncoder(tiny_model, device="cpu", batch_size=8)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database, once on SQLite and once on PostgreSQL (see tests/database_urls.py)."""
    from database_urls import fresh_database

    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def tiny_captioner_dir(tmp_path_factory):
    """A tiny random GIT model saved as transformers saves one; it captions, and answers
    because its folder is named as GIT's question-answering checkpoints are."""
    pytest.importorskip("transformers")
    from tiny_vlms import save_tiny_git

    return save_tiny_git(str(tmp_path_factory.mktemp("tiny-git-vqa")))
