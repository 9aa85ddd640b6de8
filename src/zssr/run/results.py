"""What a run leaves in ``result.json``: one schema, as dataclasses that write it and read it back.

Every key is always present; a value that does not apply (no ground truth, no kernel estimation) is ``null``. The
file is strict JSON: a number that is not finite is written as ``null``. ``docs/design.md`` lists the keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StepResult:
    """One gradual step (one jump has one)."""

    scale: list[float]
    iterations: int
    final_lr: float
    train_pixels: int = 0  # crop pixels trained on in this step
    back_projection_rounds: int | None = None  # per ensemble stage, as used (fewer than asked where they diverge)
    lr_changes: list[list[float]] = field(default_factory=list)  # [iteration, new learning rate] at each LR cut
    restarts: int = 0  # times the net died (zssr.method.module) and training began again from fresh weights


@dataclass
class KernelEstimation:
    """``kernel=estimated``: how the kernel was estimated and, with ``true_kernel``, how well."""

    seconds: float
    iterations: int
    fallback: str | None  # why no estimate is used (the image cannot give one, it did not converge, it was too wide)
    native_sharpness: float | None  # the image's sharpness with the estimate's blur taken out
    kernel_file: str | None = None  # the estimate ZSSR used (.mat)
    rejected_kernel_file: str | None = None  # an estimate turned down as too wide (.mat), kept for a look
    kernel_size: list[int] | None = None
    kernel_error: float | None = None  # of the kernel ZSSR used (bicubic's when the estimate was rejected)
    rejected_kernel_error: float | None = None
    bicubic_kernel_error: float | None = None  # for reference (integer scales)
    starts: list[dict] | None = None  # estimator.starts > 1: each start's seed, native sharpness, error, whether used
    width_because: str | None = None  # estimator=spectral: why its fit gave way to the isotropic width
    blur: dict | None = None  # estimator=spectral: the motion path or defocus disk taken in place of the Gaussian
    details: dict | None = None  # what else an estimator reports (Estimate.details)


@dataclass
class Scores:
    """PSNR / SSIM on Y and PSNR on RGB (``zssr.ops.metrics.evaluate``)."""

    psnr: float
    ssim: float
    psnr_rgb: float


@dataclass
class RunResult:
    input: str
    output: str
    scale: list[float]
    kernel: str  # bicubic, the given file, or estimated
    iterations: int
    train_flops: float  # forward + backward over all crops: 3 x the net's FLOPs per pixel x the crop pixels
    seconds: float  # training and inference
    train_seconds: float
    inference_seconds: float
    final_lr: float
    precision: str
    device: str
    input_size: list[int]
    output_size: list[int]
    steps: list[StepResult]
    seed: int | None
    son_noise_std: float
    back_projection_iters: list[int]
    plan: dict[str, Any]  # zssr.method.plan.KernelPlan.to_dict(): why the run was set up as it was
    compute: dict[str, Any]  # zssr.ops.compute.Compute.to_dict(): precision, memory format, the CPU it was chosen for
    kernel_estimation: KernelEstimation | None = None
    gt: str | None = None
    gt_cropped: bool | None = None
    psnr: float | None = None
    ssim: float | None = None
    psnr_rgb: float | None = None
    psnr_bicubic: float | None = None
    ssim_bicubic: float | None = None
    psnr_rgb_bicubic: float | None = None
    total_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys of a newer schema, kept when read

    def add_scores(self, zssr: Scores, bicubic: Scores) -> None:
        for name in ("psnr", "ssim", "psnr_rgb"):
            setattr(self, name, getattr(zssr, name))
            setattr(self, f"{name}_bicubic", getattr(bicubic, name))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(data.pop("extra"))
        return finite(data)

    def write(self, path: Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        known["steps"] = [StepResult(**s) for s in known.get("steps", [])]
        if known.get("kernel_estimation") is not None:
            known["kernel_estimation"] = KernelEstimation(**known["kernel_estimation"])
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})

    @classmethod
    def read(cls, path: Path) -> RunResult:
        return cls.from_dict(json.loads(path.read_text()))


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (per process) and ``os.replace``, so a reader, or a job
    killed mid-write, never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """The project's JSON files (``result.json``, ``summary.json``, ``aggregate.json``): indented, strict, and
    replaced whole (:func:`replace_file`)."""
    replace_file(path, json.dumps(finite(data), indent=2, allow_nan=False))


def finite(value: Any) -> Any:
    """NaN and infinities -> None, recursively (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
