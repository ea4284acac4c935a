"""Exact search on a torch device (a GPU) over the collection's float16 vectors: the vectors
held in the device's memory as one matrix, a query batch multiplied with it in chunks, the
top k kept as it goes (torch.topk, merged chunk by chunk). Used instead of FAISS when a GPU
is present and the vectors fit in its memory; FAISS's exact search over the same float16
vectors answers the same (on a CPU, where it also runs, score for score; on a GPU the
products are float16, so only near-ties may order differently). A flat FAISS index keeps
the float32 vectors as embedded: scores differ from it in the fourth decimal.
"""

from __future__ import annotations

import glob

import numpy as np

from retrieval.index.vector_rows import VectorRows

CHUNK_ROWS = 1 << 20  # vectors multiplied at once: bounds the scores matrix of a query batch
MEMORY_SHARE = 0.8  # of the device's free memory the vectors may take


def fits(count: int, dim: int, device: str) -> bool:
    """Whether ``count`` vectors fit in the device's free memory (a CPU: always)."""
    import torch

    if not str(device).startswith("cuda"):
        return True
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return count * dim * 2 <= free * MEMORY_SHARE


class DeviceExactSearch:
    def __init__(self, rows: VectorRows, ids, device: str = "cpu", chunk_rows: int = CHUNK_ROWS):
        import torch

        self.device = torch.device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32  # CPUs multiply fp32 faster
        self.ids = np.sort(np.asarray(ids, dtype=np.int64))
        self.chunk_rows = chunk_rows
        self.matrix = torch.empty((len(self.ids), rows.dim), dtype=self.dtype, device=self.device)
        start = 0
        for part, vectors in rows.iter_chunks(self.ids):
            self.matrix[start:start + len(part)] = torch.as_tensor(vectors).to(self.device, self.dtype)
            start += len(part)
        self._ids = torch.as_tensor(self.ids, device=self.device)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries, k: int, allowed_ids=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) of each query by inner product, as FAISS answers: ids -1
        and scores -inf where fewer than k vectors (allowed ones) exist."""
        import torch

        queries = torch.as_tensor(np.atleast_2d(np.asarray(queries, np.float32))).to(self.device, self.dtype)
        allowed = None
        if allowed_ids is not None:
            allowed = torch.as_tensor(np.isin(self.ids, np.asarray(allowed_ids, np.int64)), device=self.device)
        best_scores = torch.full((len(queries), 0), -float("inf"), device=self.device)
        best_rows = torch.zeros((len(queries), 0), dtype=torch.int64, device=self.device)
        with torch.inference_mode():
            for start in range(0, len(self.ids), self.chunk_rows):
                scores = (queries @ self.matrix[start:start + self.chunk_rows].T).float()
                if allowed is not None:
                    scores[:, ~allowed[start:start + self.chunk_rows]] = -float("inf")
                top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
                merged_scores = torch.cat([best_scores, top.values], dim=1)
                merged_rows = torch.cat([best_rows, top.indices + start], dim=1)
                keep = torch.topk(merged_scores, min(k, merged_scores.shape[1]), dim=1)
                best_scores, best_rows = keep.values, torch.gather(merged_rows, 1, keep.indices)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        found = best_scores.shape[1]
        scores[:, :found] = best_scores.cpu().numpy()
        ids[:, :found] = self._ids[best_rows].cpu().numpy()
        ids[~np.isfinite(scores)] = -1
        return scores, ids


def cuda_if_present() -> str | None:
    """"cuda" when this process can use an NVIDIA GPU, else None. Without a GPU's device
    file torch is not imported at all, so a CPU search stays as light as FAISS alone."""
    if not glob.glob("/dev/nvidia[0-9]*"):
        return None
    import torch

    return "cuda" if torch.cuda.is_available() else None
