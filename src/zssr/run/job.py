"""Everything one run needs, read and checked before any training (so bad input costs nothing), then frozen.

:func:`read_inputs` reads the files and settings; :func:`prepare` adds the :class:`~zssr.method.plan.KernelPlan`
(estimating the kernel first when ``kernel=estimated``). Nothing changes a :class:`Job` afterwards.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from zssr.errors import ZSSRError
from zssr.method.plan import KernelPlan, kernel_plan
from zssr.ops.compute import Compute, choose_compute
from zssr.ops.imageio import MAX_PIXELS, LoadedImage, load_image, open_input
from zssr.ops.kernels import as_tensor, load_kernel
from zssr.ops.resize import output_shape
from zssr.run.results import KernelEstimation
from zssr.run.settings import as_list, check_settings, for_factor, parse_scale, per_step

log = logging.getLogger(__name__)

MIN_SON_SIDE = 8  # the input downscaled by the scale must keep at least this many pixels per side


@dataclass(frozen=True)
class Inputs:
    image: LoadedImage
    scale: tuple[float, float]
    given_kernel: np.ndarray | None  # kernel=<file>
    estimate: bool  # kernel=estimated
    true_kernel: np.ndarray | None  # only to score an estimated kernel
    gt: torch.Tensor | None  # (3, H, W) in [0, 1], cropped to the output
    gt_cropped: bool
    out_dir: Path
    out_shape: tuple[int, int]
    compute: Compute  # precision and memory format on this machine
    schedule: list[tuple[float, float]]  # the scale of each gradual step
    fit_steps: list[int]  # the training steps of each gradual step's fit
    crop_phases: list[bool]  # per fit: whether it follows data.crop_schedule (else data.crop_size throughout)
    back_projection_iters: list[int]  # per step, as configured
    estimator: Any = None  # kernel=estimated: the KernelEstimator (zssr.estimators), built and checked up front


@dataclass(frozen=True)
class Job:
    inputs: Inputs
    plan: KernelPlan
    estimation: KernelEstimation | None = None

    @property
    def kernel(self) -> torch.Tensor | None:
        """The final step's kernel as a float32 tensor (None: bicubic)."""
        return as_tensor(self.plan.kernel)

    @property
    def back_projection_iters(self) -> list[int]:
        return self.plan.cap(self.inputs.back_projection_iters)


def gradual_schedule(scale: tuple[float, float], levels: int) -> list[tuple[float, float]]:
    """Intermediate scales of gradual SR: for each level, grow one axis, then the other, then both.

    ``levels=0`` is one jump. ``levels=2`` at x2 gives the 2018 preset (1,1.5) (1.5,1) (1.5,1.5) (1.5,2) (2,1.5) (2,2).
    """
    if levels <= 0:
        return [scale]
    steps: list[tuple[float, float]] = []
    previous = (1.0, 1.0)
    for j in range(1, levels + 1):
        current = tuple(1 + (s - 1) * j / levels for s in scale)
        for step in ((previous[0], current[1]), (current[0], previous[1]), current):
            if max(step) > 1 and step not in steps:
                steps.append(step)
        previous = current
    return steps


def auto_schedule(scale: tuple[float, float], increment: float) -> list[tuple[float, float]]:
    """``gradual_steps=auto``'s factors: evenly spaced from 1 to ``scale``, at most ``increment`` apart (x2 with 0.5:
    1.5, 2; x4: 1.5, 2, 2.5, 3, 3.5, 4). An anisotropic scale grows both axes in proportion."""
    n = max(1, math.ceil((max(scale) - 1) / increment - 1e-9))
    return [tuple(1 + (s - 1) * k / n for s in scale) for k in range(1, n + 1)]


def plan_fits(cfg: DictConfig, scale: tuple[float, float]) -> tuple[list[tuple[float, float]], list[int], list[bool]]:
    """The gradual steps' factors, each fit's training steps and whether it follows ``data.crop_schedule``.

    ``gradual_steps=auto`` (:func:`auto_schedule`): the first intermediate fit trains ``gradual.first_steps``, each
    later one ``gradual.next_steps`` from the weights before it, both on ``data.crop_size`` crops; the final fit is
    one jump's (``trainer.max_steps`` for the factor, the crop schedule). Otherwise every fit takes
    ``trainer.max_steps`` for its own factor."""
    steps = cfg.get("gradual_steps")
    if steps == "auto":
        schedule = auto_schedule(scale, float(cfg.gradual.increment))
        middle = [int(cfg.gradual.next_steps if i else cfg.gradual.first_steps) for i in range(len(schedule) - 1)]
        return schedule, [*middle, steps_for(cfg, scale)], [False] * len(middle) + [True]
    schedule = explicit_schedule(steps, scale) if steps else gradual_schedule(scale, int(cfg.gradual_levels or 0))
    return schedule, [steps_for(cfg, s) for s in schedule], [True] * len(schedule)


def steps_for(cfg: DictConfig, scale: tuple[float, float]) -> int:
    """The steps of one fit at SR factor ``scale``: ``trainer.max_steps``, a number or a mapping like
    ``{x2: 1650, x4: 600}`` (the entry of the largest factor at or below ``scale``; a gradual step below every
    listed factor takes the smallest's)."""
    return int(for_factor(cfg.trainer.max_steps, scale))


def explicit_schedule(steps: Any, scale: tuple[float, float]) -> list[tuple[float, float]]:
    """``gradual_steps``: the intermediate scales given (each a factor or ``[sh, sw]``), then ``scale``. Each must grow
    on the one before it, without passing ``scale``."""
    schedule: list[tuple[float, float]] = []
    for entry in as_list(steps):
        try:
            step = parse_scale(entry)
        except ZSSRError:
            step = None
        previous = schedule[-1] if schedule else (1.0, 1.0)
        if (step is None or step == previous or any(s < p for s, p in zip(step, previous, strict=True))
                or any(s > f + 1e-9 for s, f in zip(step, scale, strict=True)) or step == scale):
            raise ZSSRError(f"gradual_steps must be auto, or scales (a number or [sh, sw]) that grow from 1 towards "
                            f"scale {list(scale)} without reaching it, got {list(as_list(steps))!r}")
        schedule.append(step)
    return [*schedule, scale]


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ZSSRError(f"output directory {directory} is not writable: {exc.strerror or exc}") from None


def check_size(image: LoadedImage, scale: tuple[float, float]) -> None:
    h, w = image.size
    if min(h / scale[0], w / scale[1]) < MIN_SON_SIDE:
        raise ZSSRError(f"image {w}x{h} is too small for scale {scale[0]:g}x{scale[1]:g}: its downscaled copy needs "
                        f"at least {MIN_SON_SIDE} pixels per side")


def check_output(size: tuple[int, int], scale: tuple[float, float], max_pixels: int | None) -> tuple[int, int]:
    """The output's ``(H, W)`` for an input of ``size`` at ``scale``; a :class:`ZSSRError` when it is over
    ``max_pixels`` (None: the input's limit, :data:`~zssr.ops.imageio.MAX_PIXELS`), before any training."""
    out = output_shape(size, scale)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if out[0] * out[1] > limit:
        raise ZSSRError(f"the output would be {out[1]}x{out[0]} ({out[0] * out[1] / 1e6:.0f} MP) for a "
                        f"{size[1]}x{size[0]} input at scale {scale[0]:g}x{scale[1]:g}, over max_output_pixels={limit} "
                        f"({limit / 1e6:.0f} MP); lower the scale, or raise max_output_pixels if this machine has the "
                        "memory for it")
    return out


def match_gt(gt: LoadedImage, shape: tuple[int, int], scale: tuple[float, float]) -> tuple[torch.Tensor, bool]:
    """The ground truth as ``(3, H, W)``; a GT up to ``ceil(scale) - 1`` pixels larger is cropped top-left (the usual
    protocol crops the HR image to a multiple of the scale before downscaling)."""
    gh, gw = gt.size
    slack = math.ceil(max(scale)) - 1
    if (gh, gw) == tuple(shape):
        return gt.rgb, False
    if shape[0] <= gh <= shape[0] + slack and shape[1] <= gw <= shape[1] + slack:
        return gt.rgb[:, : shape[0], : shape[1]], True
    raise ZSSRError(f"ground truth is {gw}x{gh} but the output is {shape[1]}x{shape[0]}")


def check_optimizer(cfg: DictConfig) -> None:
    """Build the configured optimizer once on a dummy parameter, so a value it refuses (a negative learning rate, a
    beta outside [0, 1)) is one line now rather than a traceback from inside Lightning."""
    from hydra.utils import instantiate

    try:
        instantiate(cfg.model.optimizer)(params=[torch.zeros(1, requires_grad=True)])
    except (ValueError, TypeError) as exc:
        raise ZSSRError(f"model.optimizer: {exc}") from None


def read_inputs(cfg: DictConfig) -> Inputs:
    check_settings(cfg)
    out_dir = Path(cfg.paths.output_dir)
    check_writable(out_dir)
    scale = parse_scale(cfg.scale)
    check_optimizer(cfg)
    max_pixels = cfg.get("max_input_pixels")
    image = open_input(cfg.input, max_pixels)
    check_size(image, scale)
    estimate = str(cfg.kernel) == "estimated"
    estimator = None
    if estimate:
        from zssr.estimators import build_estimator

        estimator = build_estimator(cfg.estimator)
    given = load_kernel(cfg.kernel) if cfg.kernel and not estimate else None
    true_kernel = load_kernel(cfg.true_kernel) if cfg.get("true_kernel") else None
    out_shape = check_output(image.size, scale, cfg.get("max_output_pixels"))
    gt, gt_cropped = match_gt(load_image(cfg.gt, max_pixels), out_shape, scale) if cfg.get("gt") else (None, False)
    schedule, fit_steps, crop_phases = plan_fits(cfg, scale)
    if (given is not None or estimate) and len(schedule) > 1:
        log.warning("gradual SR with a given kernel: the kernel is used for the final step, bicubic before it")
    back_projection = per_step(cfg.inference.back_projection_iters, len(schedule))
    compute = choose_compute(str(cfg.precision), cfg.model.channels_last, cfg.trainer.get("accelerator", "auto"),
                             cfg.inference.channels_last)
    return Inputs(image, scale, given, estimate, true_kernel, gt, gt_cropped, out_dir, out_shape, compute,
                  schedule, fit_steps, crop_phases, back_projection, estimator)


def prepare(cfg: DictConfig, inputs: Inputs, loggers: list) -> Job:
    """Decide the kernel plan; ``kernel=estimated`` estimates the kernel here (:mod:`zssr.run.estimation`)."""
    if not inputs.estimate:
        mode = "bicubic" if inputs.given_kernel is None else "given"
        return Job(inputs, kernel_plan(cfg, mode, inputs.given_kernel))
    from zssr.run.estimation import estimate_for_run

    mode, kernel, record = estimate_for_run(cfg, inputs.estimator, inputs.image, inputs.scale, inputs.out_dir,
                                            inputs.true_kernel, loggers)
    return Job(inputs, kernel_plan(cfg, mode, kernel, record.fallback), record)
