"""ONNX Runtime sessions that start faster the second time: the graph as ONNX Runtime
optimised it is kept beside the export and loaded in place of the export next time.

A cold `clipdex search` opens the text tower once: 428 ms from the export, which ONNX Runtime
optimises then, against 275 ms from the graph saved already optimised (ViT-B-32-256, 2 cores;
the same vectors to the bit; bench/session_start.py). The saved graph is optimised at the portable
level (fusions, no layout changes for this CPU) and still names the export's weights file,
so it is small (0.5 MB beside 250 MB of weights). Its name carries ONNX Runtime's version and
the export's size and time, so a new export or a new ONNX Runtime never opens a stale one.
"""

from __future__ import annotations

import glob
import hashlib
import os

SAVED_MARK = ".optimised-"


def saved_graph_path(path: str) -> str | None:
    """Where the optimised graph of the export at ``path`` is kept (None: no export there)."""
    import onnxruntime as ort

    try:
        graph, weights = os.stat(path), os.stat(path + ".data")
    except OSError:
        return None
    key = f"{ort.__version__}|{graph.st_size}|{graph.st_mtime_ns}|{weights.st_size}|{weights.st_mtime_ns}"
    return f"{path[:-len('.onnx')]}{SAVED_MARK}{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def open_session(path: str, options):
    """A CPU session of the ONNX graph at ``path`` with ``options``: from its saved optimised
    graph where there is one, else optimised now and saved for the next time (where the
    folder can be written; a failed save costs nothing but the time)."""
    import onnxruntime as ort

    saved = saved_graph_path(path) if path.endswith(".onnx") else None
    if saved and os.path.exists(saved):
        try:
            return ort.InferenceSession(saved, options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 (a damaged saved graph: the export is still there)
            pass
    if saved is None or not os.access(os.path.dirname(saved), os.W_OK):
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    first = ort.SessionOptions()
    first.intra_op_num_threads, first.inter_op_num_threads = options.intra_op_num_threads, options.inter_op_num_threads
    first.add_session_config_entry("session.intra_op.allow_spinning", "0")
    first.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # portable: no layout for this CPU
    staged = f"{saved}.{os.getpid()}.tmp"  # beside the export: the graph names its weights file relative to it
    first.optimized_model_filepath = staged
    try:
        session = ort.InferenceSession(path, first, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 (the graph could not be written there: open the export as it is)
        if os.path.exists(staged):
            os.unlink(staged)
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    try:
        os.replace(staged, saved)
        for stale in glob.glob(f"{path[:-len('.onnx')]}{SAVED_MARK}*.onnx"):
            if stale != saved:
                os.unlink(stale)  # of an earlier export or ONNX Runtime
    except OSError:
        if os.path.exists(staged):
            os.unlink(staged)
    return session
