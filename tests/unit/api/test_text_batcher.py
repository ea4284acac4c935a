import asyncio

import numpy as np

from api.http.text_batcher import TextBatcher


class RecordingEncoder:
    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def embed_texts(self, texts):
        self.calls.append(list(texts))
        if self.fail_on in texts:
            raise RuntimeError("model broke")
        return np.array([[float(len(t))] for t in texts], np.float32)


def test_concurrent_queries_share_one_call_and_get_their_own_vectors():
    encoder = RecordingEncoder()

    async def main():
        batcher = TextBatcher(encoder, window_ms=50, max_batch=64)
        await batcher.start()
        texts = ["a", "bb", "ccc", "dddd"]
        vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))
        await batcher.stop()
        return texts, vectors

    texts, vectors = asyncio.run(main())
    assert [float(v[0]) for v in vectors] == [1.0, 2.0, 3.0, 4.0]
    assert len(encoder.calls) == 1 and sorted(encoder.calls[0]) == sorted(texts)


def test_an_encoder_error_reaches_every_waiting_query():
    encoder = RecordingEncoder(fail_on="boom")

    async def main():
        batcher = TextBatcher(encoder, window_ms=50)
        await batcher.start()
        results = await asyncio.gather(batcher.embed("boom"), batcher.embed("fine"), return_exceptions=True)
        after = await batcher.embed("later")  # the batcher keeps working
        await batcher.stop()
        return results, after

    results, after = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results) and float(after[0]) == 5.0
