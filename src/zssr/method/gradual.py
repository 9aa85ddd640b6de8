"""Test-time training and inference, once per gradual step: each step trains on the fathers so far (the input, its
downscaled copies and the previous steps' outputs), super-resolves the input to that step's scale, and adds the result
as a new father. One jump is a schedule of one step."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import LearningRateMonitor, ProgressBar

from zssr.errors import Diverged
from zssr.method.data import Father
from zssr.method.inference import super_resolve_regions
from zssr.method.lr_policy import LinearFitLRPolicy
from zssr.ops.imageio import save_image
from zssr.ops.metrics import psnr, shave_for
from zssr.ops.resize import downscale, imresize
from zssr.run.job import Job
from zssr.run.results import StepResult

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    sr: torch.Tensor  # (3, H, W) in [0, 1]: the final step's output
    steps: list[StepResult] = field(default_factory=list)
    device: str = "cpu"
    train_seconds: float = 0.0
    inference_seconds: float = 0.0
    train_flops: float = 0.0


def make_trainer(cfg: DictConfig, job: Job, loggers: list) -> pl.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c]
    if not cfg.trainer.enable_progress_bar:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if not loggers:  # Lightning refuses an LR monitor without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                       max_steps=job.inputs.fit_steps[-1],  # each fit sets its own (_fit)
                       precision=job.inputs.compute.precision, default_root_dir=str(job.inputs.out_dir))


def batch_variants(cfg: DictConfig, device: torch.device) -> bool:
    """``inference.batch_variants``; ``auto``: batch on accelerators only, where it saves launches (on a CPU one
    variant already fills the cores; docs/lab/results.md)."""
    value = cfg.inference.batch_variants
    return device.type != "cpu" if value == "auto" else bool(value)


MAX_RESTARTS = 2  # fresh starts after the net dies, before the run fails


def _fit(cfg: DictConfig, job: Job, trainer: pl.Trainer, module: pl.LightningModule, step: int,
         extra: list[Father]) -> tuple[int, int]:
    """Train ``module`` for one gradual step; returns the iterations it took (the LR policy may stop it early), all
    attempts counted, and how many times it began again from fresh weights because the net had died."""
    inputs, plan = job.inputs, job.plan
    final = step == len(inputs.schedule) - 1
    crops = {} if inputs.crop_phases[step] else {"crop_schedule": None}
    data = instantiate(cfg.data, **crops, image=inputs.image.rgb, scale=inputs.schedule[step],
                       kernel=job.kernel if final else None, extra_fathers=extra, seed=int(cfg.seed or 0) + step,
                       rotations=plan.train_rotations, flips=plan.train_flips, noise_std=plan.son_noise_std)
    if final and inputs.gt is not None:
        bicubic = imresize(inputs.image.rgb, inputs.scale, out_shape=inputs.out_shape).clamp(0, 1)
        module.set_gt_probe(bicubic, inputs.gt, shave_for(inputs.scale), gray=inputs.image.gray)
    done = trainer.global_step
    for restarts in range(MAX_RESTARTS + 1):
        # the fit's own count (per SR factor where trainer.max_steps maps factors to counts); curves continue
        trainer.fit_loop.epoch_loop.max_steps = trainer.global_step + inputs.fit_steps[step]
        trainer.should_stop = False
        trainer.fit(module, datamodule=data)  # a fresh optimizer and weight average each time
        if module.dead_at is None:
            return trainer.global_step - done, restarts
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        log.warning("the net died at step %d (its output the bicubic input: the ReLUs of a layer off), learning rate "
                    "%g; %s", module.dead_at, lr, "starting again from fresh weights"
                    if restarts < MAX_RESTARTS else "giving up")
        module.net.init_weights()
    raise Diverged(f"training failed: the net died {MAX_RESTARTS + 1} times (its output the bicubic input: the ReLUs "
                   f"of a layer off) with learning rate {lr:g}; lower model.optimizer.lr")


def lr_changes(trainer: pl.Trainer) -> list[list[float]]:
    """The LR policy's cuts in the fit just done, as [iteration, new learning rate]; none without the policy."""
    policy = next((c for c in trainer.callbacks if isinstance(c, LinearFitLRPolicy)), None)
    return [[int(step), float(lr)] for step, lr in policy.history] if policy else []


def _super_resolve(cfg: DictConfig, job: Job, trainer: pl.Trainer, module: pl.LightningModule,
                   step: int) -> tuple[torch.Tensor, int]:
    inputs, plan = job.inputs, job.plan
    final = step == len(inputs.schedule) - 1
    module.to(trainer.strategy.root_device)  # the end of a fit moves the module to the CPU; inference runs on the GPU
    module.eval()
    module.net.to(memory_format=inputs.compute.inference_memory_format)  # the next fit sets the training format again
    sr, rounds = super_resolve_regions(
        module.net, inputs.image.rgb, inputs.schedule[step], cfg.inference.get("region"),
        kernel=job.kernel if final else None, back_projection_iters=job.back_projection_iters[step],
        rotations=plan.ensemble_rotations, flips=plan.ensemble_flips, tile=int(cfg.inference.tile),
        autocast_dtype=inputs.compute.autocast_dtype, memory_format=inputs.compute.inference_memory_format,
        batch_variants=batch_variants(cfg, module.device))
    module.train()
    return sr.cpu(), rounds


def check_output(sr: torch.Tensor, lr: torch.Tensor, scale: tuple[float, float], kernel: torch.Tensor | None,
                 lr_rate: float) -> None:
    """Refuse an output that is not finite, or that no longer explains its own input: downscaled again it must come
    within a wide margin of the input, or at least as close as bicubic upscaling does (reconstruction PSNR >= 20 dB,
    or no more than 10 dB below bicubic's). A trained net passes by far; a diverged one does not."""
    if not torch.isfinite(sr).all():
        raise Diverged(f"training diverged: the output is not finite (learning rate {lr_rate:g}); lower "
                       f"model.optimizer.lr")
    bicubic = imresize(lr, scale, out_shape=sr.shape[-2:]).clamp(0, 1)
    own, reference = (psnr(downscale(x, scale, kernel, out_shape=lr.shape[-2:]).clamp(0, 1), lr, y_channel=False)
                      for x in (sr, bicubic))
    if own < min(20.0, reference - 10.0):
        raise Diverged(f"training diverged: the output downscaled again matches the input at {own:.1f} dB (bicubic: "
                       f"{reference:.1f} dB) with learning rate {lr_rate:g}; lower model.optimizer.lr")


def fit_and_super_resolve(cfg: DictConfig, job: Job, trainer: pl.Trainer) -> Outcome:
    """Every gradual step: train, super-resolve, and (but for the last) save the output and add it as a father."""
    module = instantiate(cfg.model, channels_last=job.inputs.compute.channels_last)
    inputs = job.inputs
    outcome = Outcome(sr=inputs.image.rgb)
    extra: list[Father] = []
    for i, step_scale in enumerate(inputs.schedule):
        t0, pixels = time.perf_counter(), module.train_pixels
        iterations, restarts = _fit(cfg, job, trainer, module, i, extra)
        t1 = time.perf_counter()
        outcome.sr, rounds = _super_resolve(cfg, job, trainer, module, i)
        outcome.train_seconds += t1 - t0
        outcome.inference_seconds += time.perf_counter() - t1
        lr_now = trainer.optimizers[0].param_groups[0]["lr"]
        check_output(outcome.sr, inputs.image.rgb, step_scale, job.kernel if i == len(inputs.schedule) - 1 else None,
                     lr_now)
        outcome.steps.append(StepResult(list(step_scale), iterations, lr_now, module.train_pixels - pixels, rounds,
                                        lr_changes(trainer), restarts))
        log.info("step %d/%d scale %s: %d iterations, final lr %.1e", i + 1, len(inputs.schedule), step_scale,
                 iterations, lr_now)
        if i < len(inputs.schedule) - 1:
            save_image(inputs.out_dir / f"{inputs.image.name}_step{i + 1}.png", outcome.sr, inputs.image)
            extra.append(Father(outcome.sr, math.sqrt(step_scale[0] * step_scale[1])))
    outcome.device = str(module.device)
    outcome.train_flops = 3.0 * module.net.flops_per_pixel() * module.train_pixels
    return outcome
