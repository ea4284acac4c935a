"""Background jobs of the service: one incremental re-index at a time, with progress."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Job:
    id: str
    kind: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    report: dict | None = None
    error: str | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)


class JobBusy(RuntimeError):
    pass


class Jobs:
    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.started_at or _now(), reverse=True)

    def running(self) -> Job | None:
        return next((j for j in self._jobs.values() if j.state in ("queued", "running")), None)

    def start(self, kind: str, work: Callable[[Job], dict]) -> Job:
        """Run ``work(job)`` in a thread; refuse while another job runs."""
        with self._lock:
            busy = self.running()
            if busy is not None:
                raise JobBusy(f"job {busy.id} ({busy.kind}) is still running")
            job = Job(id=uuid.uuid4().hex[:12], kind=kind)
            self._jobs[job.id] = job

        def run() -> None:
            job.state, job.started_at = "running", _now()
            try:
                job.report = work(job)
                job.state = "done"
            except Exception as exc:
                log.exception("job %s failed", job.id)
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                job.finished_at = _now()

        job._thread = threading.Thread(target=run, name=f"clipdex-job-{job.id}", daemon=True)
        job._thread.start()
        return job

    def wait(self, timeout: float | None = None) -> None:
        for job in list(self._jobs.values()):
            if job._thread is not None:
                job._thread.join(timeout)
