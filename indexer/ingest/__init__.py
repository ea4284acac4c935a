"""Ingest: folders in, vectors and rows out. plan -> reconcile -> decode -> embed pass ->
results; it tells FileEvents what happened to files and knows nothing of captions.

Modules (test file in brackets):

- run.py         index_folders: one run, start to end (tests/integration/test_pipeline.py)
- options.py     IndexOptions in, IndexReport out; worker counts (tests/integration/test_pipeline.py)
- scan.py        walking folders: every image file once, loops and unreadable folders survived (tests/unit/indexer/test_scan.py)
- plan.py        new, changed, gone and pending files, before anything loads (tests/integration/test_pipeline.py)
- reconcile.py   repairs after a crash; vectors a moved file takes over (tests/integration/test_pipeline.py)
- contracts.py   the EmbedPass and FileEvents protocols (tests/integration/test_caption_texts.py)
- decode.py      what decode workers do: read, hash, decode, preprocess; in threads or processes (tests/integration/test_pipeline.py)
- local_pass.py  the embed pass in this process: decode workers and the model (tests/integration/test_pipeline.py)
- gpu_feed.py    JPEGs decoded on the GPU, batches prepared on side streams (tests/unit/retrieval/test_gpu_preprocess.py)
- ray_pass.py    the embed pass on a Ray cluster, resumable by shards (tests/integration/test_ray_index.py)
- results.py     vectors into the index and results into the rows, checkpointed (tests/integration/test_pipeline.py)
- progress.py    a bar on a terminal, log lines otherwise
"""

from indexer.ingest.contracts import EmbedPass, FileEvents, FileEventsToAll, NoFileEvents
from indexer.ingest.options import IndexOptions, IndexReport, default_workers
from indexer.ingest.run import index_folders

__all__ = ["EmbedPass", "FileEvents", "FileEventsToAll", "IndexOptions", "IndexReport", "NoFileEvents", "default_workers",
           "index_folders"]
