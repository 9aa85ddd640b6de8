"""The arithmetic a run uses on this machine: precision and memory format, chosen by a rule measured on both CPU
classes (``benchmarks/speed/iteration_speed.py``; docs/lab/results.md).

- ``precision=auto``: bf16 autocast where the hardware is fast at it (CPUs with AVX-512 BF16 or AMX; GPUs with bf16),
  fp16 autocast on older GPUs, else fp32. Without native bf16 a CPU emulates it about 20x slower than fp32.
- ``model.channels_last=auto`` (training): channels-last (NHWC) convolutions with autocast and on CPUs with AVX-512,
  where oneDNN's NHWC kernels are the fast ones; NCHW for fp32 on CPUs without AVX-512 (AVX2 only), where NHWC
  training steps on 128-pixel crops were 40% slower. GPUs keep NHWC.
- ``inference.channels_last=auto``: NHWC everywhere. Inference runs on large tiles without gradients, where NHWC was
  the faster layout on the AVX2 CPU too (a 512x512 input x2: 3.5 s against 5.5 s per variant in fp32).

The choice is logged and written into ``result.json`` (``compute``); inference uses the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

LIGHTNING_NAMES = {"bf16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32-true", "32": "32-true"}


def cpu_flags() -> dict[str, bool]:
    """The CPU features that decide the fast path: the hardware's, less what torch is held back from. With
    ``ATEN_CPU_CAPABILITY=avx2`` torch counts as an AVX2-only CPU (and with ``default`` as one without AVX2), so the
    AVX2 path can be run and timed on an AVX-512 machine; hold oneDNN's convolutions back too, with
    ``ONEDNN_MAX_CPU_ISA=AVX2`` (docs/lab/results.md)."""
    capability = torch.backends.cpu.get_cpu_capability()
    wide = capability not in ("DEFAULT", "AVX2")
    return {"avx2": capability != "DEFAULT" and torch.cpu._is_avx2_supported(),
            "avx512": wide and torch.cpu._is_avx512_supported(),
            "avx512_bf16": wide and torch.cpu._is_avx512_bf16_supported(),
            "amx": wide and torch.cpu._is_amx_tile_supported()}


@dataclass(frozen=True)
class Compute:
    precision: str  # Lightning's name: 32-true, bf16-mixed, 16-mixed
    channels_last: bool  # training
    reason: str
    inference_channels_last: bool = True

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(self.precision)

    @property
    def inference_memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.inference_channels_last else torch.contiguous_format

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "channels_last": self.channels_last, "reason": self.reason,
                "inference_channels_last": self.inference_channels_last,
                "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_flags": cpu_flags(),
                "threads": torch.get_num_threads()}


def _on_cuda(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` -> the fast precision of this hardware; explicit values: bf16, fp16, fp32 (or Lightning's names)."""
    if precision != "auto":
        return LIGHTNING_NAMES.get(str(precision), str(precision))
    if _on_cuda(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    flags = cpu_flags()
    return "bf16-mixed" if flags["avx512_bf16"] or flags["amx"] else "32-true"


def choose_compute(precision: str, channels_last: Any, accelerator: str,
                   inference_channels_last: Any = "auto") -> Compute:
    """Resolve ``precision``, ``model.channels_last`` and ``inference.channels_last`` (each ``auto``, true or false)
    for this machine."""
    resolved = resolve_precision(str(precision), accelerator)
    inference = True if inference_channels_last == "auto" else bool(inference_channels_last)
    if channels_last != "auto":
        return Compute(resolved, bool(channels_last), "channels_last set", inference)
    if _on_cuda(accelerator):
        nhwc, why = True, "GPU"
    elif resolved != "32-true":
        nhwc, why = True, "CPU autocast: oneDNN's low-precision kernels are NHWC"
    elif cpu_flags()["avx512"]:
        nhwc, why = True, "CPU fp32 with AVX-512: NHWC kernels are the fast ones"
    else:
        nhwc, why = False, "CPU fp32 without AVX-512: NCHW kernels are the fast ones"
    compute = Compute(resolved, nhwc, why, inference)
    log.info("compute: %s, training %s (%s), inference %s", resolved, "NHWC" if nhwc else "NCHW", why,
             "NHWC" if inference else "NCHW")
    return compute
