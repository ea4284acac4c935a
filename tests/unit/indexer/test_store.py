import os

import pytest
from sqlalchemy import update

from indexer.ingest.scan import FoundFile
from indexer.store import FAILED, OK, PENDING, RowUpdates, Store, StoreError, meta_table


def test_rows_round_trip_non_utf8_paths(database_url):
    store = Store(database_url)
    odd = os.fsdecode(b"/photos/caf\xe9 au lait.jpg")
    store.insert_pending([FoundFile(odd, 10, 123), FoundFile("/photos/plain.jpg", 5, 1)])
    states = store.file_states()
    assert set(states) == {odd, "/photos/plain.jpg"}
    assert states[odd].status == PENDING and states[odd].size == 10
    store.close()


def test_apply_updates_and_counts(database_url):
    store = Store(database_url)
    store.insert_pending([FoundFile(f"/p/{i}.jpg", 1, 1) for i in range(3)])
    ids = [fid for fid, _ in store.pending()]
    updates = RowUpdates.empty()
    updates.done(ids[0], status=OK, vector_id=ids[0], content_hash="h0")
    updates.done(ids[1], status=FAILED, error="empty file (0 bytes)")
    store.apply(updates)
    assert store.counts() == {OK: 1, FAILED: 1, PENDING: 1}
    assert store.failures() == [("/p/1.jpg", "empty file (0 bytes)")]
    assert store.vector_ids() == {ids[0]}
    store.close()


def test_the_head_read_from_file_names_is_alembics_head():
    # A store that is up to date opens without importing alembic: by the files' names.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from indexer.store.migrate import MIGRATIONS_DIR, newest_revision

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    assert newest_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_newer_schema_is_refused(database_url):
    store = Store(database_url)
    with store.engine.begin() as conn:
        conn.execute(update(meta_table).where(meta_table.c.key == "schema_version").values(value="99"))
    store.close()
    with pytest.raises(StoreError, match="upgrade clipdex"):
        Store(database_url)


def test_migrations_make_exactly_the_schema_the_queries_use(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from indexer.store import metadata
    from indexer.store.schema import SEARCH_INDEX_TABLES, SEARCH_INDEXES

    def text_search_index(diff) -> bool:  # made by migration 0003 beyond the metadata, on purpose
        kind, thing = diff[0], diff[1]
        return ((kind == "remove_table" and thing.name.startswith(SEARCH_INDEX_TABLES))
                or (kind == "remove_index" and thing.name in SEARCH_INDEXES))

    store = Store(database_url)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == "0004"
        assert [diff for diff in compare_metadata(context, metadata) if not text_search_index(diff)] == []
    store.close()


def test_a_database_made_before_migrations_is_adopted_with_its_rows(database_url):
    from sqlalchemy import create_engine

    from indexer.store import files_table, meta_table, metadata, roots_table, texts_table

    engine = create_engine(database_url)
    # How clipdex made its tables before it had migrations (the first revision's tables).
    metadata.create_all(engine, tables=[files_table, meta_table, roots_table, texts_table])
    with engine.begin() as conn:
        conn.execute(files_table.insert().values(path="/old/a.jpg", size=1, mtime_ns=1, status=OK, vector_id=7))
    engine.dispose()
    store = Store(database_url)
    assert store.vector_ids() == {7}
    store.insert_pending([FoundFile("/old/b.jpg", 1, 1)])  # and it keeps working
    assert store.counts()[PENDING] == 1
    from indexer.captions import CaptionCache

    CaptionCache(store).put({"h": "a caption"}, "captioner", None)  # the later revisions' tables are there
    assert CaptionCache(store).get(["h"], "captioner", None) == {"h": "a caption"}
    store.close()


def _open_store(url, barrier, errors):
    barrier.wait()  # all at once: the race two first runs on a new data dir have
    try:
        Store(url).close()
    except Exception as exc:  # what the race used to give: "table ... already exists"
        errors.put(f"{type(exc).__name__}: {exc}")


def test_first_opens_at_the_same_moment_migrate_once_without_errors(database_url, tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = database_url if attempt == 0 else _fresh(database_url, tmp_path, attempt)
        barrier, errors = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_open_store, args=(url, barrier, errors)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        found = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
        assert found == [] and all(w.exitcode == 0 for w in workers)
        assert Store(url).get_meta("schema_version") is not None


def _fresh(url, tmp_path, attempt):
    """Another new, empty database beside the first (SQLite: a new file)."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/again{attempt}.sqlite3"
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:  # empty it again: the race is on the first creation
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url
