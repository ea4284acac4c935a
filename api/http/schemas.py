"""Request and response bodies of the HTTP API (pydantic models, in the OpenAPI spec)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from retrieval.captioning import MAX_PROMPT_CHARS


def _iso_only(value):
    """Pydantic would read 0 or "0" as a Unix time; the spec promises ISO 8601 only."""
    if isinstance(value, (int, float)) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("expected an ISO 8601 date-time such as 2021-07-04T15:30:00")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
EXIF_DATE = "EXIF date taken, when the file has one: camera-local time, no zone (YYYY-MM-DDTHH:MM:SS)"


def display_path(path: str) -> str:
    """A path as JSON can carry it: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def exif_date(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
# Request bodies take JSON types as the spec states them: "10" is not an integer, 1 is not a
# string (FastAPI validates bodies in Python mode, so strictness is set per type).
STRICT = ConfigDict(extra="forbid")
def _not_text_or_bool(value):
    if isinstance(value, (str, bool)):
        raise ValueError("expected a JSON number")
    return value


Int = Annotated[int, BeforeValidator(_not_text_or_bool)]  # 58.0 is an integer in JSON Schema
Float = Annotated[float, Field(strict=True)]
Str = Annotated[str, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]  # 0 and "true" are not booleans


MAX_FAILURES_SHOWN = 50


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable kind of error")
    message: str = Field(description="what is wrong, for a person")
    detail: list[dict] | None = Field(None, description="per-field problems of an invalid request")


class ErrorResponse(BaseModel):
    error: ErrorBody


MAX_FILE_TYPES = 16  # extensions a filter may name


class Filters(BaseModel):
    model_config = STRICT
    folder: Str | None = Field(None, max_length=4096, description="only images under this folder")
    file_types: list[Str] | None = Field(None, max_length=MAX_FILE_TYPES, description='extensions, e.g. ["jpg", "png"]')
    date_from: IsoDateTime | None = Field(None, description="EXIF date taken, from (inclusive)")
    date_to: IsoDateTime | None = Field(None, description="EXIF date taken, to (inclusive)")


MAX_ID = 2**63 - 1  # ids are SQL BIGINTs
# (The bounds before the validator: so the spec says minimum/maximum, not ge/le.)
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_not_text_or_bool)]


def _whole_number(value):
    """A path's id as its digits only: "1.0", "+1" or " 1" name no image."""
    if isinstance(value, str) and not value.isdigit():
        raise ValueError("must be a whole number written with digits only")
    return value


# An id in a URL path: /v1/images/{id}
PathId = Annotated[int, Path(ge=1, le=MAX_ID), BeforeValidator(_whole_number)]

MAX_K = 1000  # results per page
MAX_TEXTS_PER_REQUEST = 10_000
MAX_OFFSET = 100_000  # deepest page start


class Paging(BaseModel):
    model_config = STRICT
    k: Int = Field(10, ge=1, le=MAX_K, description="results per page")
    offset: Int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip (pagination)")
    min_score: Float | None = Field(None, ge=-1.0, le=1.0, description="drop results scoring below this")


MAX_TEXT_IN_IMAGE = 500


class TextSearchRequest(Paging):
    model_config = STRICT
    query: Str | None = Field(None, min_length=1, max_length=2000, description="what to look for (its meaning)")
    text_in_image: Str | None = Field(
        None, min_length=1, max_length=MAX_TEXT_IN_IMAGE,
        description="only pictures that show this text (read by OCR), best match first; forgives case, accents, OCR's "
                    "slips and parts of words. With `query` too, among equal matches the query's meaning ranks")
    filters: Filters | None = None
    rerank: Bool = Field(False, description="re-order the top hits with the configured cross-encoder")
    caption: Bool = Field(False, description="caption the returned hits (cached captions first, within a time budget)")
    hybrid: Bool = Field(False, description="rank by image and caption similarity together (captions indexed with "
                         "`clipdex index-captions`)")
    caption_weight: Float = Field(0.5, ge=0.0, le=1.0, description="hybrid: the captions' share of the score")
    caption_prompt: Str | None = Field(None, max_length=MAX_PROMPT_CHARS,
                                       description="how captions should begin (or a task token), if the captioner takes one")
    locate: Bool = Field(False, description="show where in each hit the query is: a box in `regions` and a heat map")

    @model_validator(mode="after")
    def _something_to_find(self):
        if self.query is None and self.text_in_image is None:
            raise ValueError("give a query, a text_in_image, or both")
        return self


class RegionOut(BaseModel):
    box: list[float] = Field(description="x0, y0, x1, y1 in pixels of the upright picture (EXIF orientation applied)")
    label: str = Field(description="a text line's text, or what was located")
    score: float | None = Field(None, description="the engine's confidence, where it gives one")
    method: str = Field(description="what found it: the OCR engine, or the localisation method")
    quad: list[list[float]] | None = Field(None, description="a rotated text line's four corners, where known")


class ImageHit(BaseModel):
    id: int
    path: str
    score: float
    width: int | None
    height: int | None
    date: str | None = Field(description=EXIF_DATE)
    file_type: str
    image_url: str
    thumbnail_url: str
    rerank_score: float | None = Field(None, description="the cross-encoder's score, when re-ranked")
    hybrid_score: float | None = Field(None, description="the image and caption score together, when hybrid")
    caption: str | None = Field(None, description="what the captioner wrote, when captions were asked for")
    caption_status: str | None = Field(None, description="new, cached, pending (time budget ran out) or failed")
    text_score: float | None = Field(None, description="how well the text in the picture matches text_in_image (0..1)")
    regions: list[RegionOut] = Field(default_factory=list,
                                     description="where in the picture: the matching text lines, the located query")
    heatmap: list[list[float]] | None = Field(None, description="where the query is, 0..1, rows x columns of patches "
                                              "over the whole picture (when located)")


class SearchResponse(BaseModel):
    hits: list[ImageHit]
    k: int
    offset: int
    took_ms: float
    captioner: str | None = Field(None, description="the captioner that wrote the captions, when asked for")


class ImageInfo(BaseModel):
    id: int
    path: str
    status: str
    error: str | None
    width: int | None
    height: int | None
    date: str | None = Field(description=EXIF_DATE)
    size: int
    image_url: str
    thumbnail_url: str


class TextsAddRequest(BaseModel):
    model_config = STRICT
    texts: list[Str] = Field(min_length=1, max_length=MAX_TEXTS_PER_REQUEST)
    source: Str | None = Field(None, max_length=1000, description="where the texts came from")


class TextsAddResponse(BaseModel):
    ids: list[int]


class TextHit(BaseModel):
    id: int
    text: str
    source: str | None
    score: float


class TextSearchResponse(BaseModel):
    hits: list[TextHit]
    k: int
    offset: int
    took_ms: float


class ImageToTextRequest(Paging):
    model_config = STRICT
    image_id: Id


class ClassifyRequest(BaseModel):
    model_config = STRICT
    image_ids: list[Id] = Field(min_length=1, max_length=256)
    labels: list[Str] = Field(min_length=1, max_length=1000)
    templates: list[Str] | None = Field(
        None, max_length=100, description='prompt templates with one "{}"; default: an ensemble'
    )


class LabelScore(BaseModel):
    label: str
    probability: float


class Classification(BaseModel):
    image_id: int | None
    labels: list[LabelScore] = Field(description="all labels, most probable first")


class ClassifyResponse(BaseModel):
    results: list[Classification]
    took_ms: float


class JobStatus(BaseModel):
    id: str
    kind: str
    state: str = Field(description="queued, running, done or failed")
    done: int
    total: int
    started_at: datetime | None
    finished_at: datetime | None
    report: dict | None
    error: str | None


class IndexInfo(BaseModel):
    type: str = Field(description="flat (exact), ivf (IVF-Flat) or ivfpq (IVF-PQ, re-ranked exactly)")
    lists: int = Field(description="IVF lists; 0 for flat")
    nprobe: int = Field(description="lists searched per query; 0 for flat")
    shards: int
    vectors: int


class LocatedItem(BaseModel):
    id: int | None = Field(None, description="the indexed image's id, when ids were given")
    filename: str | None = Field(None, description="the upload's file name, when files were given")
    width: int | None = Field(None, description="the picture's upright size: boxes are in its pixels")
    height: int | None = None
    regions: list[RegionOut] = Field(default_factory=list)
    heatmap: list[list[float]] | None = Field(None, description="dense method: where the phrase is, 0..1, "
                                              "rows x columns of patches over the whole picture")
    error: str | None = None


class LocateResponse(BaseModel):
    results: list[LocatedItem]
    method: str = Field(description="dense:METHOD (the dual encoder's patch tokens) or vlm:FAMILY")
    took_ms: float


class ImageText(BaseModel):
    id: int
    engine: str | None = Field(description="the OCR engine that read the collection's pictures (none: never read)")
    status: str = Field(description="read, failed, or unread (not read yet: `clipdex index-ocr`)")
    text: str = Field(description="the lines' text, one a line")
    lines: list[RegionOut]
    error: str | None = None


class OcrStats(BaseModel):
    engine: str = Field(description="the engine's name (version and options) whose readings are searched")
    read: int
    with_text: int
    failed: int


class FailedFile(BaseModel):
    path: str
    error: str | None = Field(description="why it could not be indexed")


class Stats(BaseModel):
    data_dir: str
    model: str | None
    embed_dim: int | None
    roots: list[str]
    indexed: int
    failed: int
    pending: int
    vectors: int
    texts: int
    index: IndexInfo | None
    file_types: dict[str, int] = Field(default_factory=dict, description="indexed files by extension, most first")
    failures: list[FailedFile] = Field(default_factory=list, description=f"the first {MAX_FAILURES_SHOWN} failed "
                                       "files by path, with their reasons")
    last_indexed: str | None = Field(None, description="when a file was last indexed (UTC, ISO 8601)")
    ocr: OcrStats | None = Field(None, description="text read in the pictures, when the collection reads text")


class DuplicateGroup(BaseModel):
    files: list[ImageHit] = Field(description="a file's score is its similarity to the group's first file")


class DuplicatesResponse(BaseModel):
    threshold: float
    groups: list[DuplicateGroup]
    total_groups: int = Field(description="groups found; `groups` holds at most `limit` of them")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    loaded: bool = Field(description="the model is in memory now (with lazy loading it loads on the next request)")
    model: str | None
    error: str | None


class CaptionItem(BaseModel):
    id: int | None = Field(None, description="the indexed image's id, when one was given")
    filename: str | None = Field(None, description="the upload's file name, when an upload was given")
    caption: str | None
    status: str = Field(description="new, cached or failed")
    error: str | None = None


class CaptionResponse(BaseModel):
    captions: list[CaptionItem]
    captioner: str
    took_ms: float


class AnswerItem(BaseModel):
    id: int | None = None
    filename: str | None = None
    path: str | None = Field(None, description="the image's path, for hits of a query")
    score: float | None = Field(None, description="the hit's score, for hits of a query")
    answer: str | None
    error: str | None = None


class AnswerResponse(BaseModel):
    question: str
    answers: list[AnswerItem]
    captioner: str
    took_ms: float
