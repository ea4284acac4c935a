"""Decoding in threads: batches in the folder's order, and a stop (Ctrl-C) leaves no backlog
of pictures being decoded for nothing."""

import threading
import time

import numpy as np

from indexer.ingest.decode import DECODED, thread_batches


class SlowPictures:
    """A dataset whose items take a while, counting how many were decoded."""

    def __init__(self, count: int, seconds: float = 0.0):
        self.count, self.seconds, self.started = count, seconds, 0
        self.lock = threading.Lock()

    def __len__(self):
        return self.count

    def __getitem__(self, position):
        with self.lock:
            self.started += 1
        time.sleep(self.seconds)
        return {"id": position, "path": f"{position}.jpg", "kind": DECODED,
                "pixels": np.full((3, 2, 2), position, np.float32)}


def test_batches_come_in_order_with_their_pixels():
    batches = list(thread_batches(SlowPictures(23), batch_size=5, threads=3))
    assert [len(b["decoded"]) for b in batches] == [5, 5, 5, 5, 3]
    ids = [item["id"] for b in batches for item in b["decoded"]]
    assert ids == list(range(23))
    assert all(b["pixels"].shape[0] == len(b["decoded"]) and b["pixels"][0, 0, 0, 0] == b["decoded"][0]["id"]
               for b in batches)


def test_a_stop_after_the_first_batch_decodes_only_what_was_in_flight():
    pictures = SlowPictures(1000, seconds=0.01)
    batches = thread_batches(pictures, batch_size=4, threads=2, batches_ahead=2)
    next(batches)
    batches.close()  # what a KeyboardInterrupt in the embedding loop does to the generator
    time.sleep(0.1)
    assert pictures.started <= 3 * 4 + 4 + 2  # the window ahead and the running ones, not the folder
