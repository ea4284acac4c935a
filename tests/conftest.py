import os
import shutil

# No test touches the network: model loading must work from local files only.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The backend auto picks int8 or fp32 by how fast each ran on the machine (precision_choice.py):
# the suite fixes fp32, so that no result depends on how loaded the machine was. The tests of
# that choice measure in folders of their own, or set "measured" again.
os.environ["CLIPDEX_AUTO_PRECISION"] = "fp32"

# pytest-xdist's workers share the cores: each one's torch, and the commands it starts, gets its share.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

# Nor the user's home: the run gets a home of its own (run_home.py), removed at the end.
import pytest  # noqa: E402
from run_home import TEST_HOME  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_HOME, ignore_errors=True)

TINY = "random:clipdex-tiny"
SHAPES_SCENES, SHAPES_EPOCHS = 3000, 6  # 282 steps of 64: under a minute on 2 cores


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


@pytest.fixture(scope="session")
def shapes_model(tmp_path_factory):
    """clipdex-small trained here on generated shapes scenes, a fixed number of steps (so
    the same model on every machine): it knows colours and shapes well enough to find them.
    Trained once per run: parallel workers (pytest-xdist) wait for the first one's."""
    from filelock import FileLock

    from retrieval.datasets.shapes import make_split
    from retrieval.training import TrainConfig, train

    out = shared_folder(tmp_path_factory) / "shapes-model"
    with FileLock(f"{out}.lock"):
        if not (out / "TRAINED").exists():
            images, captions, _ = make_split(SHAPES_SCENES, 0, "train")
            train(images, captions, str(out), arch="clipdex-small",
                  config=TrainConfig(epochs=SHAPES_EPOCHS, batch_size=64, lr=2e-3, warmup_steps=20, device="cpu",
                                     progress=False))
            (out / "TRAINED").touch()
    return str(out)


def shared_folder(tmp_path_factory):
    """The run's temporary folder that every pytest-xdist worker sees (each has one of its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
