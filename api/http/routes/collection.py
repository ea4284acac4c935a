"""The collection itself: health, readiness, stats, and re-indexing as a background job."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import Paths, PathView, ReadyEncoder, ServiceState, State, require_key
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.jobs import Job, JobBusy
from api.http.model_cache import ENCODER
from api.http.schemas import (
    MAX_FAILURES_SHOWN,
    FailedFile,
    Health,
    IndexInfo,
    JobStatus,
    OcrStats,
    Readiness,
    Stats,
    exif_date,
)
from api.services import index_collection, index_options, ocr_options
from api.settings import index_config
from indexer.collection import Collection
from indexer.ocr import engine_name
from indexer.store import FAILED, OK, PENDING
from indexer.store.ocr_texts import OcrTexts

router = APIRouter(prefix="/v1", tags=["collection"], responses=ERROR_RESPONSES)
# Read endpoints: the app adds the read-access check to these.
reads = APIRouter(prefix="/v1", tags=["collection"], responses=ERROR_RESPONSES)


@router.get("/health", response_model=Health, summary="The process is up")
async def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}}, summary="Model loaded, ready to serve")
async def ready(state: State):
    loaded = state.models.peek(ENCODER) is not None
    error = state.models.error(ENCODER)
    lazy = state.settings.lazy_load or state.settings.model_idle_unload_s > 0
    # A lazily loaded (or unloaded) model is ready: the next request loads it.
    body = Readiness(ready=loaded or (lazy and error is None), loaded=loaded, model=state.model_spec, error=error)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


def _stats(state: ServiceState, paths: PathView) -> Stats:
    collection = state.collection
    counts = collection.store.counts()
    index = collection.load_index() if collection.embed_dim else None
    vectors = len(index) if index is not None else 0
    return Stats(
        data_dir=paths.show(collection.data_dir),
        model=collection.model_spec or state.model_spec,
        embed_dim=collection.embed_dim,
        roots=[paths.show(r) for r in collection.store.roots()],
        indexed=counts[OK],
        failed=counts[FAILED],
        pending=counts[PENDING],
        vectors=vectors,
        texts=state.texts.count(),
        index=IndexInfo(**index.describe()) if index is not None else None,
        ocr=_ocr_stats(collection),
        file_types=collection.store.file_types(),
        failures=[FailedFile(path=paths.show(path), error=error)
                  for path, error in collection.store.failures(MAX_FAILURES_SHOWN)],
        last_indexed=exif_date(collection.store.last_indexed()),
    )


def _ocr_stats(collection: Collection) -> OcrStats | None:
    name = engine_name(collection)
    return None if name is None else OcrStats(engine=name, **OcrTexts(collection.store).counts(name))


@reads.get("/stats", response_model=Stats, summary="Counts and model")
async def stats(state: State, paths: Paths) -> Stats:
    return await run_in_threadpool(_stats, state, paths)


def job_status(job: Job) -> JobStatus:
    return JobStatus(
        id=job.id, kind=job.kind, state=job.state, done=job.done, total=job.total,
        started_at=job.started_at, finished_at=job.finished_at, report=job.report, error=job.error,
    )


@router.post("/reindex", response_model=JobStatus, status_code=202, dependencies=[Depends(require_key)],
             responses={409: {"model": ERROR_RESPONSES[400]["model"]}},
             summary="Start an incremental re-index of the collection's folders")
async def reindex(state: State, encoder: ReadyEncoder) -> JobStatus:
    if not state.collection.store.roots():
        raise ApiError(409, "the collection has no folders yet: run `clipdex index FOLDER` first", code="conflict")

    def work(job: Job) -> dict:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        # The job writes through its own connection; queries keep using the loaded index
        # until the job has saved the new one.
        collection = Collection(state.collection.data_dir, state.settings.database_url, index_config(state.settings))
        try:
            options = index_options(state.settings, progress=False, on_progress=progress)
            run = index_collection(collection, [], encoder.spec, lambda: encoder, options, ocr=state.settings.ocr,
                                   text_options=ocr_options(state.settings, state.settings.ocr_workers,
                                                            progress=False, on_progress=progress))
        finally:
            collection.close()
            # Whatever the job saved (all of it, or its checkpoints before a failure) is served.
            state.collection.reload_index()
        return run.as_dict() | {"scan_errors": [f"{path}: {reason}" for path, reason in run.report.scan_errors]}

    try:
        job = state.jobs.start("reindex", work)
    except JobBusy as exc:
        raise ApiError(409, str(exc), code="conflict") from None
    return job_status(job)


@reads.get("/jobs", response_model=list[JobStatus], summary="Recent jobs")
async def jobs(state: State) -> list[JobStatus]:
    return [job_status(j) for j in state.jobs.all()]


@reads.get("/jobs/{job_id}", response_model=JobStatus, summary="One job's progress")
async def job(state: State, job_id: str = Path(max_length=64)) -> JobStatus:
    found = state.jobs.get(job_id)
    if found is None:
        raise ApiError(404, f"no job {job_id}")
    return job_status(found)
