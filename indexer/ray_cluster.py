"""Reaching Ray for a run: a local instance started for it (on this machine's cores), a
running cluster by address, or the connection the caller already made. Whoever started it
shuts it down. Ray is imported only when this is used."""

from __future__ import annotations

import logging

from indexer.collection import CollectionError
from retrieval.cpu_info import usable_cpus


class RayIndexError(CollectionError):
    """Ray is missing, or the cluster cannot be reached or used."""


class RayConnection:
    def __init__(self, address: str | None):
        # None or "local": a Ray instance on this machine, for this run; "auto", "HOST:PORT"
        # or "ray://HOST:PORT": a running cluster.
        self.address = address
        self.ray = None
        self.started_here = False

    def connect(self):
        if self.ray is not None:
            return self.ray
        import ray

        if ray.is_initialized():  # the caller (a test, a notebook) connected already
            self.ray = ray
            return ray
        try:
            if self.address in (None, "local"):
                ray.init(num_cpus=usable_cpus(), include_dashboard=False, logging_level=logging.WARNING)
            else:
                # The cluster runs this process's clipdex code (the model side and this
                # package); its other dependencies (torch, open_clip, the OCR engine...) must
                # be installed on the nodes.
                import indexer
                import retrieval

                ray.init(address=self.address, logging_level=logging.WARNING,
                         runtime_env={"py_modules": [retrieval, indexer]})
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
            where = "a local Ray instance" if self.address in (None, "local") else f"the Ray cluster at {self.address!r}"
            raise RayIndexError(f"cannot start or reach {where}: {exc}") from None
        self.ray, self.started_here = ray, True
        return ray

    def disconnect(self) -> None:
        if self.ray is not None and self.started_here:
            self.ray.shutdown()
        self.ray, self.started_here = None, False
