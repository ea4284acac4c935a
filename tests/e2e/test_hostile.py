"""A hostile folder and a hostile client: links out of the folders, files that are no
files, HTML named .png, a 173-byte strip that asks for gigabytes, a data dir named like a
URL's query, bad ids and filters.
Indexed by the real CLI, served by a real server on loopback."""

import json
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from imagefiles import png_bomb_bytes, write_photos
from live_server import API_KEY, Server
from PIL import Image

TINY = "random:clipdex-tiny"


def clipdex(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """photos/ with three good pictures and every kind of trap; a secret and a picture
    outside it that links point at."""
    root = tmp_path_factory.mktemp("hostile")
    photos, outside = root / "photos", root / "outside"
    write_photos(str(photos), 3)
    write_photos(str(outside), 1, start=50)
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    os.symlink(outside / "secret.txt", photos / "passwd.jpg")
    os.symlink(outside / "photo_0050.jpg", photos / "outside.jpg")
    (photos / "evil.png").write_text("<html><script>alert(1)</script></html>")
    os.mkfifo(photos / "pipe.png")
    os.symlink(photos / "selfloop.jpg", photos / "selfloop.jpg")
    (photos / "bomb.png").write_bytes(png_bomb_bytes(20_000, 20_000))  # 400M pixels: over PIL's limit too
    Image.new("RGB", (30_000, 1), (200, 30, 30)).save(photos / "strip.png")
    data = root / "data ?#%20"  # (read as a URL, the name would put the database elsewhere)
    indexed = clipdex("index", str(photos), "--data-dir", str(data), "--model", TINY, "-q", "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert sorted(p.name for p in root.iterdir()) == ["data ?#%20", "outside", "photos"]
    assert (data / "clipdex.sqlite3").is_file()
    return root, json.loads(indexed.stdout), data


@pytest.fixture(scope="module")
def server(hostile):
    running = Server(str(hostile[2]), CLIPDEX_API_KEY=API_KEY)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def _status(data) -> dict:
    out = clipdex("status", "--data-dir", str(data), "--json", "--show-failed", "100")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_every_bad_entry_is_listed_once_in_status_with_its_reason(hostile):
    root, report, data = hostile
    assert "Traceback" not in json.dumps(report)
    status = _status(data)
    failures = {os.path.basename(f["path"]): f["error"] for f in status["failures"]}
    assert len(status["failures"]) == len(failures)  # once each
    assert set(failures) == {"passwd.jpg", "outside.jpg", "evil.png", "pipe.png", "selfloop.jpg", "bomb.png"}
    assert "outside the indexed folders" in failures["passwd.jpg"] and "--follow-links" in failures["outside.jpg"]
    assert "not a regular file" in failures["pipe.png"] and "cannot read" in failures["selfloop.jpg"]
    assert "not an image" in failures["evil.png"]
    assert "limit 100,000,000" in failures["bomb.png"]  # clipdex's limit, not PIL's 178,956,970
    assert status["indexed"] == 4 and status["failed"] == 6  # three photos and the strip
    again = _status(data)  # a second look changes nothing
    assert again["failed"] == 6


def test_no_file_but_an_indexed_image_is_served(hostile, client):
    _, _, data = hostile
    status = _status(data)
    ids = {}
    for name in ("passwd.jpg", "outside.jpg", "evil.png", "pipe.png", "photo_0000.jpg"):
        hits = client.post("/v1/search/text", headers={"X-API-Key": API_KEY}, json={"query": name, "k": 50}).json()
        ids.update({os.path.basename(h["path"]): h["id"] for h in hits["hits"]})
    assert "photo_0000.jpg" in ids and not {"passwd.jpg", "evil.png"} & set(ids)  # failed files are no hits
    good = client.get(f"/v1/images/{ids['photo_0000.jpg']}")
    assert good.status_code == 200 and good.headers["content-type"] == "image/jpeg"
    assert good.headers["x-content-type-options"] == "nosniff" and "default-src 'self'" in \
        good.headers["content-security-policy"]
    for image_id in range(1, len(status["failures"]) + status["indexed"] + 2):
        served = client.get(f"/v1/images/{image_id}")
        info = client.get(f"/v1/images/{image_id}/info", headers={"X-API-Key": API_KEY})
        if served.status_code == 200:
            assert info.json()["status"] == "ok" and served.headers["content-type"].startswith("image/")
        assert b"root:x:0:0" not in served.content and b"<script>" not in served.content


def test_a_file_changed_since_indexing_is_not_served_until_reindexed(hostile, client, tmp_path):
    root, _, _ = hostile
    victim = root / "photos" / "photo_0001.jpg"
    hits = client.post("/v1/search/text", headers={"X-API-Key": API_KEY}, json={"query": "x", "k": 50}).json()
    image_id = next(h["id"] for h in hits["hits"] if h["path"].endswith("photo_0001.jpg"))
    assert client.get(f"/v1/images/{image_id}").status_code == 200
    original = victim.read_bytes()
    victim.write_text("<html>now a web page</html>")
    try:
        refused = client.get(f"/v1/images/{image_id}")
        assert refused.status_code == 404 and "changed since it was indexed" in refused.json()["error"]["message"]
    finally:
        victim.write_bytes(original)
        os.utime(victim, ns=(os.stat(victim).st_atime_ns, json_mtime(client, image_id)))
    assert client.get(f"/v1/images/{image_id}").status_code == 200


def json_mtime(client, image_id):
    """The indexed modification time of an image, read back from the database (to restore it)."""
    import sqlite3

    data = client.get("/v1/stats", headers={"X-API-Key": API_KEY}).json()["data_dir"]
    with sqlite3.connect(os.path.join(data, "clipdex.sqlite3")) as conn:
        return conn.execute("select mtime_ns from files where id = ?", (image_id,)).fetchone()[0]


def test_readers_without_the_key_see_paths_inside_the_folders_only(hostile, client):
    anonymous = client.get("/v1/images/1/info").json()["path"]
    assert anonymous.startswith("photos/") and not os.path.isabs(anonymous)
    keyed = client.get("/v1/images/1/info", headers={"X-API-Key": API_KEY}).json()["path"]
    assert os.path.isabs(keyed) and keyed.endswith(anonymous[len("photos"):])
    stats = client.get("/v1/stats").json()
    assert stats["roots"] == ["photos"] and not os.path.isabs(stats["data_dir"])


def test_bad_ids_and_too_many_file_types_are_422_not_500(client):
    for path in ("/v1/images/1.0", "/v1/images/+1/info", "/v1/images/0", "/v1/images/1.5/similar"):
        assert client.get(path).status_code == 422, path
    types = [("file_types", "jpg")] * 17
    similar = client.get("/v1/images/1/similar", params=types)
    assert similar.status_code == 422 and "16" in similar.json()["error"]["message"]
    upload = client.post("/v1/search/image", files={"file": ("q.png", open_bytes_png(), "image/png")},
                         data={"file_types": ["jpg"] * 17})
    assert upload.status_code == 422
    spec = json.dumps(client.get("/openapi.json").json())
    assert '"ge"' not in spec and '"le"' not in spec and '"maximum": 9223372036854775807' in spec


def open_bytes_png() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_links_out_are_followed_and_served_only_when_asked(hostile, tmp_path):
    root, _, _ = hostile
    data = tmp_path / "data"
    report = clipdex("index", str(root / "photos"), "--data-dir", str(data), "--model", TINY, "-q",
                     "--follow-links", "--json")
    assert report.returncode == 0 and json.loads(report.stdout)["links_out"] == 2
    status = _status(data)
    assert status["follow_links"] is True and status["indexed"] == 5  # the picture outside joins
    assert "passwd.jpg" in {os.path.basename(f["path"]) for f in status["failures"]}  # still no image
    server = Server(str(data))
    try:
        hits = httpx.post(server.url + "/v1/search/text", json={"query": "x", "k": 50}).json()["hits"]
        outside = next(h for h in hits if h["path"].endswith("outside.jpg"))
        assert httpx.get(server.url + outside["image_url"]).status_code == 200
    finally:
        server.stop()


MEMORY_PROBE = textwrap.dedent("""
    import resource, sys
    from PIL import Image
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model
    encoder = TorchEncoder(load_model("random:clipdex-tiny"), device="cpu")
    encoder.embed_images([Image.new("RGB", (64, 64))])  # warm: the model's own memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vector = encoder.embed_images([Image.open(sys.argv[1]).convert("RGB")])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) // 1024, vector.shape[1])
""")


def test_an_extreme_strip_costs_no_more_memory_than_a_photo(hostile):
    root, _, _ = hostile
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(root / "photos" / "strip.png")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    grown_mb, dim = map(int, out.stdout.split())
    assert dim > 0 and grown_mb < 200  # without the crop: gigabytes for this 30000 x 1 strip
