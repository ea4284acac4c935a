import os

import pytest
from sqlalchemy import update

from indexer.scan import FoundFile
from indexer.store import FAILED, OK, PENDING, RowUpdates, Store, StoreError, meta_table, sqlite_url


def test_rows_round_trip_non_utf8_paths(tmp_path):
    store = Store(sqlite_url(str(tmp_path)))
    odd = os.fsdecode(b"/photos/caf\xe9 au lait.jpg")
    store.insert_pending([FoundFile(odd, 10, 123), FoundFile("/photos/plain.jpg", 5, 1)])
    states = store.file_states()
    assert set(states) == {odd, "/photos/plain.jpg"}
    assert states[odd].status == PENDING and states[odd].size == 10


def test_apply_updates_and_counts(tmp_path):
    store = Store(sqlite_url(str(tmp_path)))
    store.insert_pending([FoundFile(f"/p/{i}.jpg", 1, 1) for i in range(3)])
    ids = [fid for fid, _ in store.pending()]
    updates = RowUpdates.empty()
    updates.done(ids[0], status=OK, vector_id=ids[0], content_hash="h0")
    updates.done(ids[1], status=FAILED, error="empty file (0 bytes)")
    store.apply(updates)
    assert store.counts() == {OK: 1, FAILED: 1, PENDING: 1}
    assert store.failures() == [("/p/1.jpg", "empty file (0 bytes)")]
    assert store.vector_ids() == {ids[0]}


def test_a_newer_schema_is_refused(tmp_path):
    store = Store(sqlite_url(str(tmp_path)))
    with store.engine.begin() as conn:
        conn.execute(update(meta_table).where(meta_table.c.key == "schema_version").values(value="99"))
    with pytest.raises(StoreError, match="upgrade clipdex"):
        Store(sqlite_url(str(tmp_path)))
