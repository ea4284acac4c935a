"""ONNX Runtime sessions that start faster the second time: the graph as ONNX Runtime
optimised it is kept beside the export and loaded in place of the export next time.

A cold `clipdex search` opens the text tower once: 428 ms from the export, which ONNX Runtime
optimises then, against 275 ms from the graph saved already optimised (ViT-B-32-256, 2 cores;
the same vectors to the bit; bench/session_start.py). The saved graph is optimised at the portable
level (fusions, no layout changes for this CPU) and still names the export's weights file,
so it is small (0.5 MB beside 250 MB of weights, ONNX Runtime 1.32). Its name carries ONNX
Runtime's version and the export's size and time, so a new export or a new ONNX Runtime never
opens a stale one. Every session, the first included, opens the saved graph with the caller's
options, so every process computes the same vectors.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile

from retrieval.encoders.onnx_export import WEIGHTS_SUFFIX

SAVED_MARK = ".optimised-"


def saved_graph_path(path: str) -> str | None:
    """Where the optimised graph of the export at ``path`` is kept (None: no export there)."""
    import onnxruntime as ort

    try:
        graph, weights = os.stat(path), os.stat(path + WEIGHTS_SUFFIX)
    except OSError:
        return None
    key = f"{ort.__version__}|{graph.st_size}|{graph.st_mtime_ns}|{weights.st_size}|{weights.st_mtime_ns}"
    return f"{path[:-len('.onnx')]}{SAVED_MARK}{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def open_session(path: str, options):
    """A CPU session of the ONNX graph at ``path`` with ``options``: from its saved optimised
    graph, saved now where there is none yet and the folder can be written, else from the
    export itself (a failed save costs the time, nothing else)."""
    import onnxruntime as ort

    saved = saved_graph_path(path) if path.endswith(".onnx") else None
    if saved and (os.path.exists(saved) or _save_optimised(path, saved)):
        try:
            return ort.InferenceSession(saved, options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 (a damaged saved graph: the export is still there)
            pass
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _save_optimised(path: str, saved: str) -> bool:
    """Optimise the export at ``path`` at the portable level and save the graph as ``saved``
    (through a temporary file beside it: the graph names its weights file relative to its
    folder); whether it is there now. Older saved graphs of this export are removed."""
    import onnxruntime as ort

    folder = os.path.dirname(saved)
    if not os.access(folder, os.W_OK):
        return False
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # no layout for this CPU
    handle, staged = tempfile.mkstemp(prefix=".optimising-", suffix=".onnx", dir=folder)
    os.close(handle)
    try:
        options.optimized_model_filepath = staged
        ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        with open(staged, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(staged, saved)
    except Exception:  # noqa: BLE001 (ONNX Runtime could not write there, or the disk is full)
        return False
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    for stale in glob.glob(f"{glob.escape(path[:-len('.onnx')])}{SAVED_MARK}*.onnx"):
        if stale != saved:
            os.unlink(stale)  # of an earlier export or ONNX Runtime
    return True
