"""The Encoder on ONNX Runtime: the exported towers of an open_clip model, on the CPU.

Built two ways: from a loaded model (`OnnxEncoder.exporting`, which exports the towers on
first use, and preprocesses and tokenizes with the model's own open_clip parts), or from
an export alone (`cached_onnx_encoder`): the export's description (onnx_light.py) gives
a numpy transform and tokenizer checked to match the model's, so nothing imports torch or
builds the PyTorch model. Only the two forward passes run in ONNX Runtime.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from retrieval.cpu_info import usable_cpus
from retrieval.encoders.base import Encoder
from retrieval.encoders.onnx_export import cache_dir_for, complete, exported, read_meta, tower_paths
from retrieval.encoders.onnx_light import LIGHT_KEY, light_model
from retrieval.encoders.ort_sessions import open_session
from retrieval.models import LoadedModel, canonical_spec


class OnnxEncoder(Encoder):
    # ONNX Runtime on a CPU: smaller batches keep a ViT's activations in the caches. ViT-B-32
    # at 256 px, 2-core Xeon, 1,000 JPEGs, in turns: int8 indexes in 21.5 s at 16 a batch
    # against 23.3 s at 32 (8: 20.9, 12: 21.2); fp32's tower is the same at 8-32 (24 images/s).
    # 32 had beaten 64 before (20.0 against 18.6 images/s, and 25 % less peak memory).
    default_batch_size = 16

    def __init__(self, loaded: LoadedModel, paths: dict[str, str], precision: str = "fp32", batch_size: int | None = None,
                 threads: int | None = None, logit_scale: float | None = None, weights_cache: str | None = None):
        super().__init__(loaded, "cpu", batch_size)
        if logit_scale is not None:
            self.logit_scale = logit_scale
        self.weights_cache = weights_cache
        # Unless told, as many threads as torch's where torch is in use (a process that
        # shares the machine, a Ray actor, sets torch's count for both); else ONNX
        # Runtime's own default, one per physical core, as torch's.
        torch = sys.modules.get("torch")
        threads = threads or (torch.get_num_threads() if torch else 0)
        options = _session_options(threads)
        # ONNX Runtime's parallel sections leave cores idle between and inside operators:
        # two halves of a batch on one thread each embed more images a second than the
        # batch on two threads, the same vectors to the bit (bench/halves.py, ViT-B-32-256,
        # 2 cores: 1.05-1.21x in a quiet hour, 1.6-2.2x while the machine was busy). Where
        # the threads are the machine's (nobody set a share), a batch of several pictures is
        # split in two and run at once on half the threads each, through a session of its
        # own ("image-halves").
        cores = usable_cpus()
        self._halves_threads = cores // 2 if cores >= 2 and threads in (0, cores) else 0
        self._halves_pool: ThreadPoolExecutor | None = None
        self._options, self._paths, self._sessions = options, paths, {}
        self._opening = threading.Lock()
        self.backend = f"onnx-{precision}"
        self.precision = precision

    @property
    def runs_halves(self) -> bool:
        """Whether a batch of several pictures runs as two halves at once (see __init__)."""
        return bool(self._halves_threads)

    @classmethod
    def exporting(cls, loaded: LoadedModel, precision: str = "fp32", batch_size: int | None = None, threads: int | None = None,
                  cache_root: str | None = None) -> "OnnxEncoder":
        """The encoder of a loaded model, its towers exported (once, cached) for ONNX Runtime."""
        return cls(loaded, exported(loaded, precision, cache_root), precision, batch_size, threads)

    def _session(self, tower: str):
        """A tower's session, made when first used: a text search never loads the image tower.
        Opened once even where threads ask at once."""
        session = self._sessions.get(tower)
        if session is None or isinstance(session, Future):
            with self._opening:
                if tower not in self._sessions:
                    self._sessions[tower] = self._open(tower)
                elif isinstance(self._sessions[tower], Future):  # being opened (open_soon)
                    self._sessions[tower] = self._sessions[tower].result()
                session = self._sessions[tower]
        return session

    def open_soon(self, tower: str) -> None:
        """Starts opening ``tower``'s session in a thread; its first use waits for it. ONNX
        Runtime holds no GIL while it opens one (a quarter of a second for ViT-B-32's text
        tower on 2 cores): the caller's Python runs meanwhile."""
        if tower not in self._sessions:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipdex-open")
            self._sessions[tower] = pool.submit(self._open, tower)
            pool.shutdown(wait=False)  # its thread ends when the session is open (joined at exit, if not before)

    def _open(self, tower: str):
        """The text tower opens from its saved optimised graph (ort_sessions.py: a cold search's
        one query); the image tower keeps the optimisations for this CPU, which an index run
        of minutes makes up for."""
        import onnxruntime as ort

        if tower == "text":
            return open_session(self._paths[tower], self._options)
        options = _session_options(self._halves_threads) if tower == "image-halves" else self._options
        return ort.InferenceSession(self._paths["image"], options, providers=["CPUExecutionProvider"])

    def _stack(self, pixels: list) -> np.ndarray:
        return np.stack([np.asarray(p, dtype=np.float32) for p in pixels])

    def _image_forward(self, pixels) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels.numpy() if hasattr(pixels, "numpy") else pixels, dtype=np.float32)
        if self._halves_threads and len(pixels) > 1:
            return self._in_halves(pixels)
        return self._session("image").run(None, {"pixels": pixels})[0]

    def _in_halves(self, pixels: np.ndarray) -> np.ndarray:
        """The batch's features from its two halves, run at once (ONNX Runtime holds no GIL)."""
        session = self._session("image-halves")
        with self._opening:
            if self._halves_pool is None:
                self._halves_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipdex-half")
        middle = (len(pixels) + 1) // 2
        second = self._halves_pool.submit(session.run, None, {"pixels": pixels[middle:]})
        first = session.run(None, {"pixels": pixels[:middle]})[0]
        return np.concatenate([first, second.result()[0]])

    def _text_forward(self, tokens) -> np.ndarray:
        ids = np.ascontiguousarray(tokens.numpy() if hasattr(tokens, "numpy") else tokens, dtype=np.int64)
        return self._session("text").run(None, {"tokens": ids})[0]

    def full_model(self) -> LoadedModel:
        if self.loaded.model is None:  # built from the export alone: load the PyTorch model now
            from retrieval.models import load_model

            self.loaded = load_model(self.spec, cache_dir=self.weights_cache)
        return self.loaded


def _session_options(threads: int):
    """CPU session options with ``threads`` intra-op threads (0: ONNX Runtime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: a spinning pool took the cores
    # from the FAISS search right after a text query (58 ms instead of 38 on 2 cores)
    # and from the decode workers while indexing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def cached_onnx_encoder(spec: str, precision: str, cache_root: str | None, batch_size: int | None = None,
                        threads: int | None = None, weights_cache: str | None = None) -> OnnxEncoder | None:
    """The encoder of ``spec`` from its cached export alone (no torch), or None where there
    is no complete export of this weights' towers in ``precision`` that says how to use it."""
    if cache_root is None and not os.path.isdir(canonical_spec(spec)):
        return None  # exports outside a model folder are kept only where the caller says
    folder = cache_dir_for(spec, cache_root)
    paths = tower_paths(folder, precision)
    description = read_meta(folder).get(LIGHT_KEY)
    if not description or not complete(folder, paths):
        return None
    loaded, logit_scale = light_model(canonical_spec(spec), description)
    return OnnxEncoder(loaded, paths, precision, batch_size, threads, logit_scale=logit_scale,
                       weights_cache=weights_cache)
