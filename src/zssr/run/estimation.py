"""``kernel=estimated`` for one run: estimate the input's kernel (:mod:`zssr.estimators`), save it, score it against
``true_kernel`` when given, and say which kernel plan follows (estimated, fitted, rejected or failed)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from zssr.estimators.base import KernelEstimator
from zssr.method.plan import Mode
from zssr.ops.imageio import LoadedImage
from zssr.ops.kernels import bicubic_kernel, kernel_error, save_kernel
from zssr.run.results import KernelEstimation

log = logging.getLogger(__name__)
Kernel = np.ndarray | None  # None: bicubic, or no true kernel given


def _error(kernel: np.ndarray, truth: np.ndarray | None) -> float | None:
    return None if truth is None else round(kernel_error(kernel, truth), 4)


def estimate_for_run(cfg: DictConfig, estimator: KernelEstimator, image: LoadedImage, scale: tuple[float, float],
                     out_dir: Path, true_kernel: Kernel, loggers: list) -> tuple[Mode, Kernel, KernelEstimation]:
    """Estimate, then save the kernel as ``<stem>_kernel_estimated`` (``.npy``, ``.mat`` and a picture beside the true
    kernel) or, when turned down as too wide, as ``<stem>_kernel_rejected``. Returns the plan's mode, the kernel ZSSR
    uses (None: bicubic) and the record for ``result.json``."""
    from pytorch_lightning.loggers import CSVLogger, WandbLogger

    own = [CSVLogger(str(out_dir), name="kernelgan", version="")]
    own += [logger for logger in loggers if isinstance(logger, WandbLogger)]  # same run, kernelgan/* keys
    est = estimator(image.rgb, scale, seed=int(cfg.seed or 0), loggers=own,
                    progress=bool(cfg.trainer.enable_progress_bar))
    native = est.native_sharpness
    record = KernelEstimation(seconds=round(est.seconds, 3), iterations=est.iterations, fallback=est.fallback_reason,
                              native_sharpness=native and round(native, 4), width_because=est.width_because,
                              details=est.details or None)
    if est.blur is not None:
        record.blur = {"kind": est.blur.kind, "size": round(est.blur.size, 3),
                       "angle_deg": round(float(np.degrees(est.blur.angle)), 1), "optics": round(est.blur.optics, 3),
                       "ratio": round(est.blur.ratio, 4)}
    if len(est.candidates) > 1:
        record.starts = [{"seed": c.seed, "used": c.seed == est.seed,
                          "native_sharpness": c.native_sharpness and round(c.native_sharpness, 4),
                          "kernel_error": None if c.kernel is None else _error(c.kernel, true_kernel)}
                         for c in est.candidates]
    integer = scale[0] == scale[1] and float(scale[0]).is_integer()
    if true_kernel is not None and integer:
        record.bicubic_kernel_error = _error(bicubic_kernel(int(scale[0])), true_kernel)
    kernel = est.kernel if est.kernel is not None else est.rejected
    if kernel is None:
        return "failed", None, record
    accepted = est.kernel is not None
    stem = out_dir / f"{image.name}_kernel_{'estimated' if accepted else 'rejected'}"
    npy, mat = save_kernel(kernel, stem)  # a rejected estimate too, for a look at what was turned down
    record.kernel_size = list(kernel.shape)
    error = _error(kernel, true_kernel)
    if accepted:
        record.kernel_file, record.kernel_error = str(mat), error
        log.info("estimated kernel %s in %.1f s%s", npy.name, est.seconds,
                 "" if error is None else f", error {error:.3f} against true_kernel")
    else:
        record.rejected_kernel_file, record.rejected_kernel_error = str(mat), error
        if error is not None and integer:  # the error of the kernel ZSSR is given instead: bicubic
            record.kernel_error = record.bicubic_kernel_error
    shape = "" if est.blur is None else f", {est.blur.kind} {est.blur.size:.1f} px"
    _picture(stem.with_suffix(".png"), kernel, true_kernel, f"{image.name} x{scale[0]:g}{shape}"
             + ("" if accepted else " (rejected)") + ("" if error is None else f", error {error:.3f}"))
    if not accepted:
        return "rejected", None, record
    trusted = est.fitted and (est.blur is None or est.blur.trusted) and cfg.kernel_guess.trust_fit
    return ("fitted" if trusted else "estimated"), kernel, record


def _picture(path: Path, kernel: np.ndarray, truth: np.ndarray | None, title: str) -> None:
    from zssr.estimators import kernel_figure

    try:
        kernel_figure(path, kernel, truth, title=title)
    except Exception as exc:  # a picture must never cost the result
        warnings.warn(f"could not draw the kernel picture: {exc}", stacklevel=2)
