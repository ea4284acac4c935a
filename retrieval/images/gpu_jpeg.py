"""JPEG decoding on the GPU's hardware JPEG engines (NVJPG) through NVIDIA's nvImageCodec.

A100, H100 and later data-centre GPUs carry dedicated JPEG decoders. Through them a batch
costs the CPU only the parsing of headers, and the pixels match PIL's to a grey level
(torchvision's nvJPEG differs by about 2). On one H100 they decode about 8,000 photo-sized
JPEGs/s alone, but inside `clipdex index` they measured slower than torchvision's nvJPEG
(bench/measured/gpu_ingest.h100.json), so they are used only when asked for
(``IndexOptions(jpeg_decoder="nvimgcodec")``). nvImageCodec is optional
(``pip install clipdex[gpu]``); without it, or on a GPU without the engines, the request
falls back to torchvision's nvJPEG with a warning.
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import sys
import tempfile
import threading

log = logging.getLogger(__name__)


class HardwareDecoderUnavailable(RuntimeError):
    """nvImageCodec or the GPU's JPEG engines cannot be used here; the message says why."""


def load_nvimgcodec():
    """The ``nvidia.nvimgcodec`` module; HardwareDecoderUnavailable when it cannot load.

    Loading prints to the process's stderr about every codec library that is not
    installed (JPEG 2000, TIFF: clipdex needs neither); that goes to the debug log instead.
    """
    error = None
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            from nvidia import nvimgcodec
        except Exception as exc:  # not installed, or a shared library it needs is missing
            error = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        said = captured.read().decode("utf-8", "replace").strip()
    if said:
        log.debug("nvImageCodec while loading: %s", said)
    if error is not None:
        raise HardwareDecoderUnavailable(f"nvImageCodec is not installed ({error})") from error
    return nvimgcodec


def _probe_jpeg() -> bytes:
    """A small ordinary (baseline, 4:2:0) JPEG that any hardware decoder takes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 192), (200, 120, 40)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def keep_pool_memory(device_id: int) -> None:
    """Let the device's default stream-ordered memory pool keep what it has allocated.

    nvImageCodec allocates every decoded image with cudaMallocAsync from that pool, whose
    default is to hand unused memory back to the driver at each synchronisation; the
    pipeline synchronises once per batch (to fetch the vectors), so every batch would map
    fresh memory again. Keeping it measured +13% images/s for this path on an H100.
    """
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        pool = ctypes.c_void_p()
        if cuda.cuDeviceGetDefaultMemPool(ctypes.byref(pool), ctypes.c_int(device_id)) != 0:
            raise OSError("cuDeviceGetDefaultMemPool failed")
        keep_all = ctypes.c_uint64(2**64 - 1)
        release_threshold = 4  # CU_MEMPOOL_ATTR_RELEASE_THRESHOLD
        if cuda.cuMemPoolSetAttribute(pool, ctypes.c_int(release_threshold), ctypes.byref(keep_all)) != 0:
            raise OSError("cuMemPoolSetAttribute failed")
    except (OSError, AttributeError) as exc:
        log.debug("could not raise the CUDA memory pool's release threshold: %s", exc)


class HardwareJpegDecoder:
    """Batches of JPEG bytes -> RGB uint8 (3, H, W) CUDA tensors, decoded by NVJPG.

    JPEGs the engines do not take (progressive ones, unusual chroma layouts) are decoded
    by nvImageCodec's CUDA/CPU hybrid backend inside the same call. EXIF orientation is
    left to the caller, as with torchvision, so that both paths turn images the same way.
    """

    name = "nvimgcodec"

    def __init__(self, device, cpu_threads: int = 2):
        import torch

        self.device = torch.device(device)
        if self.device.type != "cuda":
            raise HardwareDecoderUnavailable(f"the hardware JPEG decoder needs a CUDA device, not {self.device}")
        self.nv = load_nvimgcodec()
        self.device_id = self.device.index if self.device.index is not None else 0
        self.cpu_threads = cpu_threads
        self.params = self.nv.DecodeParams(
            apply_exif_orientation=False,
            color_spec=self.nv.ColorSpec.SRGB,  # grey JPEGs come out as RGB, as PIL's convert does
            allow_any_depth=False,
            sample_format=self.nv.SampleFormat.P_RGB,  # planar: (3, H, W) like torchvision
        )
        self._local = threading.local()
        # The engines exist on A100/H100-class GPUs only: a decoder restricted to them
        # returns None for a plain JPEG where they are missing.
        try:
            hardware = [self.nv.Backend(self.nv.BackendKind.HW_GPU_ONLY)]
            engines_only = self.nv.Decoder(device_id=self.device_id, max_num_cpu_threads=1, backends=hardware)
            probe = engines_only.decode([self.nv.CodeStream(_probe_jpeg())], params=self.params)
        except Exception as exc:
            raise HardwareDecoderUnavailable(f"nvImageCodec could not decode on the GPU ({exc})") from exc
        if not probe or probe[0] is None:
            raise HardwareDecoderUnavailable("this GPU has no hardware JPEG decoder (NVJPG)")
        keep_pool_memory(self.device_id)

    def _decoder(self):
        # One decoder per thread: the pipeline decodes batches from several threads, and
        # each decoder owns its CUDA streams and host buffers.
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            nv = self.nv
            decoder = nv.Decoder(
                device_id=self.device_id,
                max_num_cpu_threads=self.cpu_threads,
                backends=[nv.Backend(nv.BackendKind.HW_GPU_ONLY), nv.Backend(nv.BackendKind.HYBRID_CPU_GPU)],
            )
            self._local.decoder = decoder
        return decoder

    def decode(self, blobs: list[bytes]) -> list:
        """One batched call; None marks a JPEG that could not be decoded."""
        import torch

        streams, positions = [], []
        for position, blob in enumerate(blobs):
            try:
                streams.append(self.nv.CodeStream(blob))
                positions.append(position)
            except Exception:  # a header nvImageCodec cannot parse: the caller's fallback decides
                pass
        out: list = [None] * len(blobs)
        if not streams:
            return out
        # Decoding is ordered on the caller's current stream, so torch ops queued after it
        # on that stream see the pixels.
        stream = torch.cuda.current_stream(self.device)
        try:
            images = self._decoder().decode(streams, params=self.params, cuda_stream=stream.cuda_stream)
        except Exception:
            return out
        for position, image in zip(positions, images):
            if image is not None:
                out[position] = torch.as_tensor(image, device=self.device)
        return out
