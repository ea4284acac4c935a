"""Zero-shot classification of indexed or uploaded images against a list of labels."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.deps import ReadyEncoder, State, read_upload
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.schemas import Classification, ClassifyRequest, ClassifyResponse, LabelScore
from retrieval.zero_shot import ZeroShotError, check_labels, classify, label_vectors, ranked

router = APIRouter(prefix="/v1/classify", tags=["classify"], responses=ERROR_RESPONSES)


def _results(encoder, image_vectors: np.ndarray, image_ids, labels, templates) -> list[Classification]:
    try:
        labels, templates = check_labels(labels, templates)
    except ZeroShotError as exc:
        raise ApiError(422, str(exc)) from None
    probabilities = classify(image_vectors, label_vectors(encoder, labels, templates), encoder.logit_scale)
    results = []
    for image_id, row in zip(image_ids, probabilities):
        results.append(Classification(
            image_id=image_id, labels=[LabelScore(label=label, probability=p) for label, p in ranked(labels, row)]
        ))
    return results


@router.post("", response_model=ClassifyResponse, summary="Label probabilities for indexed images")
async def classify_indexed(
    state: State,
    encoder: ReadyEncoder,
    body: ClassifyRequest,
) -> ClassifyResponse:
    started = time.perf_counter()

    def work():
        vectors = []
        for image_id in body.image_ids:
            vector = state.collection.vector_of_file(image_id)
            if vector is None:
                raise ApiError(404, f"no indexed image with id {image_id}")
            vectors.append(vector)
        return _results(encoder, np.stack(vectors), body.image_ids, body.labels, body.templates)

    results = await run_in_threadpool(work)
    return ClassifyResponse(results=results, took_ms=(time.perf_counter() - started) * 1000)


@router.post("/upload", response_model=ClassifyResponse, summary="Label probabilities for an uploaded image")
async def classify_upload(
    state: State,
    encoder: ReadyEncoder,
    file: UploadFile = File(description="the image"),
    labels: list[str] = Form(description="candidate labels (repeat the field)"),
    templates: list[str] = Form(None, description='prompt templates with one "{}"'),
) -> ClassifyResponse:
    started = time.perf_counter()
    try:
        check_labels(labels, templates)
    except ZeroShotError as exc:
        raise ApiError(422, str(exc)) from None
    decoded = await read_upload(file, state.settings)

    def work():
        vector = encoder.embed_images([decoded.image])
        return _results(encoder, vector, [None], labels, templates)

    results = await run_in_threadpool(work)
    return ClassifyResponse(results=results, took_ms=(time.perf_counter() - started) * 1000)
