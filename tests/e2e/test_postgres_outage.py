"""A PostgreSQL server that dies during `clipdex index`: the run stops with a clear error,
and once the server is back the next run finishes with nothing lost."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from imagefiles import write_photos
from live_server import free_port

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = pytest.mark.skipif(not BINARIES, reason="PostgreSQL server binaries are not installed")


class Postgres:
    """A throwaway PostgreSQL cluster of this test's own, so it can be killed."""

    def __init__(self):
        # Not under pytest's tmp_path: as root the server runs as "postgres", who cannot
        # enter pytest's private folders.
        self.folder, self.port, self.bin = tempfile.mkdtemp(prefix="clipdex-pg-"), free_port(), BINARIES[-1]
        self.as_user = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.folder, "-A", "trust", "-U", "clipdex")
        self.url = f"postgresql+psycopg://clipdex@127.0.0.1:{self.port}/postgres"

    def _run(self, tool, *args):
        subprocess.run([*self.as_user, os.path.join(self.bin, tool), *args], check=True, capture_output=True)

    def start(self):
        self._run("pg_ctl", "-D", self.folder, "-w", "-l", os.path.join(self.folder, "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def kill(self):
        self._run("pg_ctl", "-D", self.folder, "-m", "immediate", "stop")

    def remove(self):
        try:
            self.kill()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


def _ok_rows(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("select path, indexed_at from files where status = 'ok'")).all())
    except Exception:
        return {}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_database_killed_mid_index_then_rerun_completes(tmp_path):
    server = Postgres()
    server.start()
    try:
        folder = tmp_path / "photos"
        write_photos(str(folder), 80, size=(320, 240))  # ViT-B-32, 4 a batch: seconds to spare for the kill
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLIPDEX_CHECKPOINT_SECONDS": "0"}
        command = [sys.executable, "-m", "api.cli", "index", str(folder), "--data-dir", str(tmp_path / "data"),
                   "--db-url", server.url, "--model", "random:ViT-B-32", "--batch-size", "4", "--workers", "1",
                   "--backend", "torch", "-q"]
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.poll() is None and len(_ok_rows(server.url)) < 12:
            time.sleep(0.1)
        assert run.poll() is None, "the run ended before the database could be killed"
        before = _ok_rows(server.url)
        server.kill()
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 3 and "the database failed" in stderr and "run the same command again" in stderr
        assert "Traceback" not in stderr

        server.start()
        survived = _ok_rows(server.url)
        assert len(survived) >= len(before) >= 12  # committed rows outlive the crash
        rerun = subprocess.run(command[:-1] + ["--json", "-q"], env=env, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout.strip().splitlines()[-1])
        assert report["embedded"] == 80 - len(survived)  # nothing committed is embedded again
        after = _ok_rows(server.url)
        assert len(after) == 80 and all(after[p] == t for p, t in survived.items())
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "api.cli", "status", "--data-dir", str(tmp_path / "data"), "--db-url", server.url,
             "--json"], env=env, capture_output=True, text=True, check=True).stdout)
        assert status["indexed"] == 80 == status["vectors"] and status["pending"] == 0
    finally:
        server.remove()
