"""``estimator=kernelgan`` (and ``kernelgan_fkp``): train the GAN, read its kernel off, clean it up, and among several
starts take the medoid."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate

from zssr.errors import ZSSRError
from zssr.estimators.base import Estimate, KernelEstimator
from zssr.estimators.guard import kernel_passband, sharpness_ratio
from zssr.estimators.kernelgan.data import KernelGANDataModule
from zssr.estimators.kernelgan.module import KernelGANModule
from zssr.ops.kernels import for_scale, kernel_error, recentre, zero_negligible
from zssr.run.settings import Number, OneOf, require

log = logging.getLogger(__name__)


class KernelGANEstimator(KernelEstimator):
    """The kernel GAN (:mod:`zssr.estimators.kernelgan`): ``max_steps`` GAN iterations on ``crop_size`` crops, the
    estimate's values below the ``keep``-th largest zeroed, on at most ``threads`` CPU threads (its convolutions are
    too small to gain from more, and extra threads only contend with parallel jobs). ``module`` is the
    :class:`KernelGANModule` config (with ``prior: true``, the learned kernel prior of ``estimator=kernelgan_fkp``),
    ``trainer`` its Lightning ``Trainer``. With ``starts`` > 1 the GAN runs from seeds ``seed``, ``seed + 1``, ...
    (the loggers get the first start's losses) and :func:`choose` picks among them."""

    def __init__(self, *, name: str, max_steps: int, crop_size: int, keep: int, starts: int, threads: int | None,
                 sharpness_limit: Any, module: Any, trainer: Any):
        # the values and why: conf/estimator/kernelgan.yaml
        # the generator's 13x13 kernel and the 7x7 discriminator need room: crops of at least 32
        super().__init__(name, sharpness_limit, require("estimator.crop_size", crop_size, Number(32)))
        self.max_steps = require("estimator.max_steps", max_steps, Number(1))
        self.keep = require("estimator.keep", keep, Number(1))
        self.starts = require("estimator.starts", starts, Number(1))
        self.threads = require("estimator.threads", threads, Number(1, optional=True))
        if not module or not trainer:
            raise ZSSRError("estimator.module and estimator.trainer must be set (conf/estimator/kernelgan.yaml)")
        self.module, self.trainer = module, trainer
        if require("estimator.module.prior", module.get("prior", False), OneOf((True, False))):
            from zssr.estimators.kernelgan.flow_prior import load_prior

            load_prior(module.get("prior_file"))  # missing or damaged: one line now

    def estimate(self, image: torch.Tensor, scale: tuple[float, float], seed: int = 0, loggers: list | None = None,
                 progress: bool = False) -> Estimate:
        previous_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(min(int(self.threads), previous_threads))
        ratio = sharpness_ratio(image)
        candidates = []
        try:
            for start in range(int(self.starts)):
                est = one_start(image, scale, self, loggers if start == 0 else None, progress, seed + start)
                if est.kernel is not None:
                    est = replace(est, native_sharpness=ratio / kernel_passband(est.kernel, scale))
                candidates.append(est)
        finally:
            torch.set_num_threads(previous_threads)
        # a start that failed beside one that did is only in ``candidates``
        return replace(choose(candidates), candidates=candidates, seconds=sum(c.seconds for c in candidates))


def one_start(image: torch.Tensor, scale: tuple[float, float], gan: KernelGANEstimator, loggers: list | None,
              progress: bool, seed: int) -> Estimate:
    """One run of the GAN from ``seed``: its kernel, cleaned up and centred for ``scale``."""
    started = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module: KernelGANModule = instantiate(gan.module, _convert_="all")
    data = KernelGANDataModule(image, gan.crop_size, module.G.kernel_size, seed=seed)
    trainer = instantiate(gan.trainer, max_steps=module.trainer_steps(gan.max_steps), logger=loggers or False,
                          enable_progress_bar=progress)
    with torch.random.fork_rng():  # the noise on fake patches: the same estimate for the same seed, whatever ran before
        torch.manual_seed(seed)
        trainer.fit(module, datamodule=data)
    raw = module.raw_kernel()
    seconds = time.perf_counter() - started  # a start that fails took its time too
    if not np.all(np.isfinite(raw)) or raw.sum() <= 0:
        reason = f"the estimate did not converge (its weights sum to {raw.sum():.3g})"
        return Estimate(kernel=None, fallback_reason=reason, seed=seed, seconds=seconds, iterations=module.iteration)
    k2 = recentre(zero_negligible(raw, gan.keep), (2.0, 2.0))
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
