"""Estimating one image's kernel: train the GAN, read its kernel off, clean it up, check it against the image."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate

from zssr.kernelgan.data import KernelGANDataModule
from zssr.kernelgan.guard import kernel_passband, sharpness_ratio, unusable
from zssr.kernelgan.module import KernelGANModule
from zssr.kernelgan.spectral import BlurShape, anisotropic_kernel, binned_spectrum, blur_shapes, spectral_kernel
from zssr.kernels import for_scale, kernel_error, recentre, zero_negligible
from zssr.settings import for_factor

log = logging.getLogger(__name__)


@dataclass
class Estimate:
    """An estimated kernel (None when estimation fell back to bicubic) with how it was obtained."""

    kernel: np.ndarray | None
    kernel_x2: np.ndarray | None = None
    seconds: float = 0.0
    iterations: int = 0
    fallback_reason: str | None = None
    native_sharpness: float | None = None  # :func:`sharpness_ratio` over the estimate's :func:`kernel_passband`
    rejected: np.ndarray | None = None  # an estimate turned down as too wide for the image (``kernel`` is then None)
    seed: int = 0  # the start this estimate came from
    candidates: list[Estimate] = field(default_factory=list)  # every start's estimate (``estimator.starts``)
    fitted: bool = False  # the spectrum's anisotropic fit (``shape: anisotropic``), not its fallback to a width
    width_because: str | None = None  # why ``shape: anisotropic`` fell back to the width
    blur: BlurShape | None = None  # a motion path or defocus disk that explained the spectrum better than the Gaussian


def estimate_kernel(image: torch.Tensor, scale: tuple[float, float], cfg: Any, loggers: list | None = None,
                    progress: bool = False, seed: int = 0) -> Estimate:
    """Estimate the downscaling kernel of ``image`` (``(3, H, W)`` in [0, 1]) for ``scale`` with the kernel GAN.

    ``cfg`` is the ``estimator`` config node: ``max_steps`` (iterations), ``crop_size``, ``keep`` (values kept by the
    clean-up), ``threads`` (at most this many CPU threads; the GAN's convolutions are too small to gain from more, and
    extra threads only contend with parallel jobs), ``sharpness_limit`` (one for every SR factor or one per factor,
    :func:`~zssr.settings.for_factor`), the :class:`KernelGANModule` under ``module``
    and its Lightning ``trainer``. Images the GAN cannot learn from give a warning and
    ``Estimate(kernel=None)``, i.e. bicubic. So does an estimate too wide to have made the image: the GAN
    overestimates kernels narrower than bicubic, and then the image's sharpness with the estimate's blur taken out
    (:func:`sharpness_ratio` / :func:`kernel_passband`) is above ``sharpness_limit``, more than natural images have
    (None turns the check off). With ``starts`` > 1 the GAN runs from seeds ``seed``, ``seed + 1``, ... (``loggers``
    get the first start's losses), :func:`choose` picks among them, and the check applies to its choice.
    ``method: spectral`` skips the GAN for a Gaussian from the spectrum (:mod:`.spectral`): ``shape: anisotropic``
    fits its covariance (times ``shrink``), ``shape: isotropic`` takes the width that leaves ``native_target``.
    """
    spectral = cfg.get("method", "gan") == "spectral"
    crop = 0 if spectral else int(cfg.crop_size)  # the spectrum needs no crops, only some texture
    reason = unusable(image, crop)
    if reason:
        warnings.warn(f"kernel estimation skipped: {reason}; using the bicubic kernel", stacklevel=2)
        return Estimate(kernel=None, fallback_reason=reason)
    if spectral:
        est = _spectral(image, scale, cfg)
        return _check_width(est, cfg, scale)
    threads = cfg.threads
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(min(int(threads), previous_threads))
    ratio = sharpness_ratio(image)
    candidates = []
    try:
        for start in range(int(cfg.starts)):
            est = _estimate(image, scale, cfg, crop, loggers if start == 0 else None, progress, seed + start)
            if est.kernel is not None:
                est = replace(est, native_sharpness=ratio / kernel_passband(est.kernel, scale))
            candidates.append(est)
    finally:
        torch.set_num_threads(previous_threads)
    est = replace(choose(candidates), candidates=candidates, seconds=sum(c.seconds for c in candidates))
    if est.kernel is None:  # no start converged (a start that failed beside one that did is only in ``candidates``)
        warnings.warn(f"kernel estimation failed: {est.fallback_reason}; using the bicubic kernel", stacklevel=2)
        return est
    return _check_width(est, cfg, scale)


def _check_width(est: Estimate, cfg: Any, scale: tuple[float, float]) -> Estimate:
    """Turn ``est`` down for the bicubic kernel when the image is sharper than it allows (``sharpness_limit``)."""
    limit = for_factor(cfg.sharpness_limit, scale)
    if limit is not None and est.native_sharpness > float(limit):
        reason = (f"the image is sharper than the estimated kernel allows (native sharpness "
                  f"{est.native_sharpness:.2f} > estimator.sharpness_limit {float(limit):g}), so it is too wide")
        warnings.warn(f"kernel estimate rejected: {reason}; using the bicubic kernel", stacklevel=2)
        return replace(est, kernel=None, rejected=est.kernel, fallback_reason=reason)
    return est


def _spectral(image: torch.Tensor, scale: tuple[float, float], cfg: Any) -> Estimate:
    """``method: spectral`` (:mod:`.spectral`): the Gaussian whose covariance fits the spectrum's falloff
    (``shape: anisotropic``), or a straight motion path or defocus disk in its place where one explains the spectrum
    with at most ``blur_ratio`` of the Gaussian's residual (:func:`.spectral.blur_shapes`; null: Gaussians only), or
    the isotropic Gaussian that gives the image ``native_target`` (``shape: isotropic``; and where the spectrum has too
    little above its noise for a fit, or where the fit leaves the image with a native sharpness under ``min_native``:
    noise or compression flattening the spectrum make it too narrow)."""
    started = time.perf_counter()
    because = None
    if cfg.get("shape") == "anisotropic":
        prior = float(cfg.slope_prior), float(cfg.slope_prior_weight)
        spectrum = binned_spectrum(image, scale)  # made once for the Gaussian and the shapes
        fitted = None if spectrum is None else anisotropic_kernel(image, scale, float(cfg.shrink), *prior,
                                                                  spectrum=spectrum)
        if fitted is None:
            because = "too little of the spectrum stands above the noise for a kernel's shape"
        else:
            kernel, cov = fitted
            blur = None
            if cfg.get("blur_ratio") is not None:
                better = [b for b in blur_shapes(image, scale, *prior, spectrum=spectrum)
                          if b.ratio <= float(cfg.blur_ratio)]
                blur = min(better, key=lambda b: b.ratio, default=None)
            if blur is not None:
                kernel = blur.kernel(scale)
                what = (f"{blur.kind} blur of {'length' if blur.kind == 'motion' else 'radius'} {blur.size:.2f} HR px"
                        + (f" at {np.degrees(blur.angle):.0f} deg" if blur.kind == "motion" else "")
                        + f" (residual {blur.ratio:.2f} of the Gaussian's)")
            else:
                what = "Gaussian of variances {:.2f} / {:.2f} HR px^2".format(*np.linalg.eigvalsh(cov))
            native = sharpness_ratio(image) / kernel_passband(kernel, scale)
            if cfg.min_native is None or native >= float(cfg.min_native):
                log.info("kernel from the spectrum in %.2f s: %s", time.perf_counter() - started, what)
                return Estimate(kernel=kernel, seconds=time.perf_counter() - started, native_sharpness=native,
                                fitted=True, blur=blur)
            because = (f"the spectrum's fit ({what}) leaves the image duller than natural images are (native "
                       f"sharpness {native:.3f} < estimator.min_native {float(cfg.min_native):g}), so it is too narrow")
        log.warning("%s; taking a width only", because)
    kernel, variance, native = spectral_kernel(image, scale, float(for_factor(cfg.native_target, scale)))
    seconds = time.perf_counter() - started
    log.info("kernel from the spectrum in %.2f s: isotropic Gaussian of variance %.2f HR px^2", seconds, variance)
    return Estimate(kernel=kernel, seconds=seconds, native_sharpness=native, width_because=because)


def _estimate(image: torch.Tensor, scale: tuple[float, float], cfg: Any, crop: int, loggers: list | None,
              progress: bool, seed: int) -> Estimate:
    started = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module: KernelGANModule = instantiate(cfg.module, _convert_="all")
    data = KernelGANDataModule(image, crop, module.G.kernel_size, seed=seed)
    trainer = instantiate(cfg.trainer, max_steps=module.trainer_steps(int(cfg.max_steps)), logger=loggers or False,
                          enable_progress_bar=progress)
    with torch.random.fork_rng():  # the noise on fake patches: the same estimate for the same seed, whatever ran before
        torch.manual_seed(seed)
        trainer.fit(module, datamodule=data)
    raw = module.raw_kernel()
    seconds = time.perf_counter() - started  # a start that fails took its time too
    if not np.all(np.isfinite(raw)) or raw.sum() <= 0:
        reason = f"the estimate did not converge (its weights sum to {raw.sum():.3g})"
        return Estimate(kernel=None, fallback_reason=reason, seed=seed, seconds=seconds, iterations=module.iteration)
    k2 = recentre(zero_negligible(raw, int(cfg.keep)), (2.0, 2.0))
    kernel = for_scale(k2, scale)
    log.info("kernel estimated in %.1f s (%d iterations): %dx%d", seconds, module.iteration, *kernel.shape)
    return Estimate(kernel=kernel, kernel_x2=k2, seconds=seconds, iterations=module.iteration, seed=seed)


def choose(candidates: list[Estimate]) -> Estimate:
    """The estimate to use among the starts': the medoid (the one closest to the others by symmetric kernel error),
    so one start that collapsed or ran wide is outvoted."""
    good = [c for c in candidates if c.kernel is not None]
    if len(good) < 3:
        return (good or candidates)[0]
    def spread(c: Estimate) -> float:
        return sum(kernel_error(c.kernel_x2, o.kernel_x2) + kernel_error(o.kernel_x2, c.kernel_x2) for o in good)
    return min(good, key=spread)
