"""The collection side of clipdex: folders, files, metadata rows, building and updating indexes.

Uses retrieval/; knows no HTTP and no command line.

- collection/      Collection: one data dir, its store and its index; locks; the re-index switch
- data_dir.py      the data dir: its name, finding it, the model its SQLite file records, without SQLAlchemy (tests/unit/indexer/test_data_dir.py)
- store/           all SQL: schema, file rows, migrations
- ingest/          index_folders: scan -> plan -> decode -> embed pass (local or Ray) -> results
- texts/           the texts of image->text search
- captions/        caption cache, caption texts that follow their files, sync
- ocr/             text in pictures: reading it (OCR) once per picture, keeping it with its files, searching it
- search/          hybrid (image + caption) ranking, cross-encoder re-ranking, showing where in hits
- prepare_locating.py `index --locate`: each picture's windows and regions worked out once, for showing where (tests/integration/test_locate_prepared.py)
- ray_cluster.py   reaching Ray: a local instance for the run, or a cluster by address (tests/integration/test_ray_index.py)
- reindex.py       re-embed with another model beside the old collection, then switch (tests/integration/test_reindex_refusal.py)
- training_data.py (image, caption) pairs from folders, CSV/JSONL, class folders (tests/unit/indexer/test_training_data.py)
- thumbnails.py    small previews of indexed images (tests/e2e/test_http.py)
- jsonl.py         JSON Lines files people write by hand (tests/unit/indexer/test_texts_file.py)
"""
