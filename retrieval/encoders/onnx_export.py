"""Export an open_clip model's image and text towers to ONNX (fp32, and int8 weights).

The files are cached per model spec: inside a local model directory (``DIR/onnx/``), else
under the cache folder the caller gives (the CLI and server: ``~/.cache/clipdex/onnx/`` or
``CLIPDEX_ONNX_CACHE``), else in a temporary folder of this process. An export is written to a
temporary folder and renamed into place, so a crash never leaves half a model there.
int8 is the image tower (what indexing spends its time in) with onnxruntime's static
quantization of the matrix products: weights per channel, activations with ranges
calibrated once on pictures of the model's own kind (calibration.py); the products that
move the vectors most stay fp32 (_kept_fp32). Dynamic quantization
would scale activations per batch, so an image's vector would depend on which others share
its batch (an image did not find itself first). The text tower stays fp32: a query is one
short text, and static int8 moved text vectors three times as much as image vectors
(cosine 0.98 to fp32 against 0.997 on the tiny model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings

from retrieval.atomic_io import atomic_write_bytes
from retrieval.encoders.base import learned_logit_scale
from retrieval.encoders.onnx_light import LIGHT_KEY, describe
from retrieval.models import LoadedModel, canonical_spec, weights_fingerprint

EXPORT_FORMAT = 3  # 2: int8 towers statically quantized; 3: weights in a file beside each graph
# 2: the first block, attention's own products and the projection kept fp32; 3: and attention's output
# projections; 4: the first block's MLP int8, ranges from a percentile of the calibration values
INT8_RECIPE = 4
WEIGHTS_SUFFIX = ".data"  # TOWER.onnx keeps its weights in TOWER.onnx.data
OPSET = 17
PRECISIONS = ("fp32", "int8")


class OnnxExportError(RuntimeError):
    pass


_PROCESS_CACHE: list[str] = []  # a temporary cache when the caller names none


def _process_cache() -> str:
    if not _PROCESS_CACHE:
        _PROCESS_CACHE.append(tempfile.mkdtemp(prefix="clipdex-onnx-"))
    return _PROCESS_CACHE[0]


def cache_dir_for(spec: str, cache_root: str | None = None) -> str:
    """Where the towers of ``spec`` are kept: DIR/onnx for a model folder, else a folder
    per spec under ``cache_root`` (None: a temporary folder of this process)."""
    spec = canonical_spec(spec)
    if os.path.isdir(spec):
        return os.path.join(spec, "onnx")
    root = cache_root or _process_cache()
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)[-60:]
    return os.path.join(root, f"{readable}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}")


def tower_paths(folder: str, precision: str) -> dict[str, str]:
    suffix = "" if precision == "fp32" else f".{precision}"
    return {"image": os.path.join(folder, f"image{suffix}.onnx"), "text": os.path.join(folder, "text.onnx")}


def exported(loaded: LoadedModel, precision: str = "fp32", cache_root: str | None = None) -> dict[str, str]:
    """Paths of the model's ONNX towers in ``precision``, exporting them on first use."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    folder = cache_dir_for(loaded.spec, cache_root)
    paths = tower_paths(folder, precision)
    if complete(folder, paths):
        if LIGHT_KEY not in read_meta(folder):  # exported before exports were described
            _write_meta(folder, loaded)
        return paths
    if precision == "int8":
        source = exported(loaded, "fp32", cache_root)
        _write_atomically({"image": paths["image"]}, lambda tmp: _quantize(loaded, source["image"], tmp["image"]))
    else:
        _write_atomically(paths, lambda tmp: _export(loaded, tmp))
        stale = tower_paths(folder, "int8")["image"]  # quantized from the towers just replaced
        for path in (stale, stale + WEIGHTS_SUFFIX):
            if os.path.exists(path):
                os.remove(path)
    _write_meta(folder, loaded)
    return paths


def read_meta(folder: str) -> dict:
    """The export's meta.json; {} where there is none that reads."""
    try:
        with open(os.path.join(folder, "meta.json")) as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def complete(folder: str, paths: dict[str, str]) -> bool:
    """Whether ``paths`` are there, exported by this format from the weights the spec has now."""
    meta = read_meta(folder)
    int8 = tower_paths(folder, "int8")["image"] in paths.values()
    return (meta.get("format") == EXPORT_FORMAT and meta.get("weights") == weights_fingerprint(meta.get("spec", ""))
            and (not int8 or meta.get("int8_recipe") == INT8_RECIPE)
            and all(os.path.exists(p) and os.path.exists(p + WEIGHTS_SUFFIX) for p in paths.values()))


def _write_meta(folder: str, loaded: LoadedModel) -> None:
    import torch

    spec = canonical_spec(loaded.spec)
    meta = {"format": EXPORT_FORMAT, "int8_recipe": INT8_RECIPE, "spec": spec, "weights": weights_fingerprint(spec),
            "opset": OPSET,
            "embed_dim": loaded.embed_dim, "image_size": loaded.image_size, "torch": torch.__version__,
            # What a later process needs to embed with no torch (None: this model's inputs are not reproduced).
            LIGHT_KEY: describe(loaded, learned_logit_scale(loaded.model))}
    # A temp file of its own: two processes may export the same model at once.
    atomic_write_bytes(os.path.join(folder, "meta.json"), json.dumps(meta, indent=1).encode())


def _write_atomically(paths: dict[str, str], write) -> None:
    folder = os.path.dirname(next(iter(paths.values())))
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=folder)
    try:
        staged = {tower: os.path.join(tmp, os.path.basename(path)) for tower, path in paths.items()}
        write(staged)
        for tower, path in paths.items():
            _weights_beside(staged[tower])
            os.replace(staged[tower] + WEIGHTS_SUFFIX, path + WEIGHTS_SUFFIX)  # the weights before the graph that names them
            os.replace(staged[tower], path)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise OnnxExportError(f"could not export to ONNX: {type(exc).__name__}: {first_line}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _weights_beside(path: str) -> None:
    """Rewrite an ONNX file with its weights in a file of their own beside it: ONNX Runtime
    then reads them as they are, instead of out of one large protobuf message (a ViT-B-32
    text tower's session opens in 0.16 s instead of 0.46 s, measured here). Tensors under
    1 KB stay in the graph: shape inference must read constants such as Slice bounds."""
    import onnx

    weights = path + WEIGHTS_SUFFIX
    onnx.save_model(onnx.load(path), path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(weights), size_threshold=1024)
    if not os.path.exists(weights):  # no tensor that large: an empty file still marks the export whole
        open(weights, "wb").close()


def _export(loaded: LoadedModel, paths: dict[str, str]) -> None:
    import torch

    class Tower(torch.nn.Module):
        def __init__(self, model, tower: str):
            super().__init__()
            self.model, self.tower = model, tower  # a submodule: its weights export as weights

        def forward(self, inputs):
            return self.model.encode_image(inputs) if self.tower == "image" else self.model.encode_text(inputs)

    model = loaded.model.float().eval().cpu()
    pixels = torch.zeros(2, 3, loaded.image_size, loaded.image_size)
    tokens = loaded.tokenizer(["a photo", "two photos of a dog"])
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # The fused attention kernel of inference mode has no ONNX form: trace the plain ops.
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _export_towers(Tower(model, "image"), Tower(model, "text"), pixels, tokens, paths)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def _export_towers(image_tower, text_tower, pixels, tokens, paths: dict[str, str]) -> None:
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        for tower, module, example, name in (("image", image_tower, pixels, "pixels"),
                                             ("text", text_tower, tokens, "tokens")):
            torch.onnx.export(
                module, (example,), paths[tower], input_names=[name], output_names=["embedding"],
                dynamic_axes={name: {0: "batch"}, "embedding": {0: "batch"}}, opset_version=OPSET, dynamo=False,
            )


class _Inputs:
    """onnxruntime's CalibrationDataReader: one input a batch."""

    def __init__(self, name: str, values):
        self.batches = iter([{name: values[i:i + 1]} for i in range(len(values))])

    def get_next(self):
        return next(self.batches, None)


def _quantize(loaded: LoadedModel, source: str, target: str) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from retrieval.encoders.calibration import calibration_pixels

    pixels = calibration_pixels(loaded.preprocess, loaded.image_size)
    root = logging.getLogger()
    root.addFilter(_not_from_the_quantizer)
    try:
        quantize_static(source, target, _Inputs("pixels", pixels), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["MatMul", "Gemm"], per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.Percentile,
                        extra_options={"CalibPercentile": CALIBRATION_PERCENTILE}, nodes_to_exclude=_kept_fp32(source))
    finally:
        root.removeFilter(_not_from_the_quantizer)


def _not_from_the_quantizer(record: logging.LogRecord) -> bool:
    """onnxruntime's quantizer warns on the root logger that the graph could be pre-processed
    first (shape inference; it quantizes the same without): advice for its own users, which
    reached clipdex's on the first int8 index as a WARNING line."""
    return "onnxruntime" not in record.pathname or "quantization" not in record.pathname


# An activation's int8 range covers this percentile of its calibration values, not their extremes:
# a few outliers no longer coarsen the steps of all the rest. 99.99 and 99.9 clip too much
# (top-10 kept 0.976 and 0.962 for image queries on a trained clipdex-small, with the output
# projections int8 too); Entropy kept no more than MinMax.
CALIBRATION_PERCENTILE = 99.999
_BLOCK = re.compile(r"(?:resblocks|layers|layer|blocks)\.(\d+)/")


def _kept_fp32(graph_path: str) -> list[str]:
    """The matrix products of an image tower that int8 would move the vectors most by:
    attention's products of two activations (queries x keys, weights x values) and the
    output projection that follows them, the first block's input projection (its inputs
    are the raw patch embeddings), and the last product (the projection into the joint
    space). The share of fp32's top-10 that int8 keeps (bench/int8_agreement.py, 500 scenes,
    text / image queries), on two trained clipdex-small:
      - all of these and the first block's MLP fp32, MinMax ranges: 0.990 / 0.983, 0.987 / 0.985;
      - the first block's MLP int8, percentile ranges (this recipe): 0.990 / 0.984, 0.988 / 0.986;
      - the output projections int8 instead: 0.984 / 0.984, 0.983 / 0.981 (0.979 with MinMax
        ranges; SmoothQuant-style scaling of V against them made it 0.96);
      - and the first block's input projection int8: 0.979 / 0.975.
    On ViT-B-32-256 this recipe's tower embeds 1.12x as many images a second as the one
    with the first block's MLP fp32 (2 cores, one thread a half-batch)."""
    import onnx

    graph = onnx.load(graph_path, load_external_data=False).graph
    constants = {tensor.name for tensor in graph.initializer} | {
        node.output[0] for node in graph.node if node.op_type == "Constant"}
    kept, after_attention, attended = [], False, False
    weighted = []
    for node in graph.node:  # in the graph's order: a block's attention, then its MLP
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        if not any(name in constants for name in node.input):  # two activations
            kept.append(node.name)
            after_attention = attended = True
            continue
        weighted.append(node)
        match = _BLOCK.search(node.name)
        first_block = bool(match) and match.group(1) == "0"
        # the output projection; the first block's products before its attention (its input projection)
        if after_attention or (first_block and not attended):
            kept.append(node.name)
        after_attention = False
    return kept + [node.name for node in weighted[-1:] if node.name not in kept]
