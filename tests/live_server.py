"""A real `clipdex serve` process on loopback over a small indexed collection, for e2e tests."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time

import httpx
from imagefiles import noise_image, write_bad_files, write_photos
from PIL import Image

TINY = "random:clipdex-tiny"
API_KEY = "test-key-123"
MAX_UPLOAD = 300_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_collection(root: str) -> str:
    """Photos in two folders, PNGs, EXIF dates in 2019 and 2023, bad files; indexed."""
    photos = os.path.join(root, "photos")
    write_photos(os.path.join(photos, "trip"), 6)
    write_photos(os.path.join(photos, "home"), 4, start=100, ext="png")
    write_bad_files(os.path.join(photos, "junk"))
    for year, seed in ((2019, 500), (2023, 501)):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = f"{year}:06:01 12:00:00"
        noise_image(seed).save(os.path.join(photos, "trip", f"dated_{year}.jpg"), exif=exif.tobytes())
    data = os.path.join(root, "data")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "api.cli", "index", photos, "--data-dir", data, "--model", TINY, "-q"],
        check=True, env=env, capture_output=True,
    )
    return data


class Server:
    def __init__(self, data_dir: str, **env_extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "CLIPDEX_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            "CLIPDEX_CHECKPOINT_SECONDS": "0", **env_extra,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--data-dir", data_dir, "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    httpx.get(self.url + "/v1/ready", timeout=5)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def jpeg_bytes(seed: int, size=(120, 90)) -> bytes:
    buffer = io.BytesIO()
    noise_image(seed, size, tint=seed).save(buffer, "JPEG")
    return buffer.getvalue()


def build_text_collection(root: str, count: int = 8, seed: int = 3) -> tuple[str, str, list[dict]]:
    """Pictures with text in them (`clipdex datasets text`), indexed with their text read;
    returns (pictures folder, data dir, [{file, lines, queries...}])."""
    import json

    pictures, data = os.path.join(root, "scans"), os.path.join(root, "data")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for args in (["datasets", "text", pictures, "--count", str(count), "--seed", str(seed), "--text-share", "0.75"],
                 ["index", pictures, "--data-dir", data, "--model", TINY, "--ocr", "-q"]):
        subprocess.run([sys.executable, "-m", "api.cli", *args], check=True, env=env, capture_output=True)
    with open(os.path.join(pictures, "queries.jsonl"), encoding="utf-8") as handle:
        return pictures, data, [json.loads(line) for line in handle]
