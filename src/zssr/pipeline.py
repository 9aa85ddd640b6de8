"""One image, start to finish: load -> (gradual) test-time training -> ensemble inference -> metrics -> files.

:func:`train` is the testable core behind ``train.py``: it takes a composed Hydra config and returns the result dict
that is also written to ``result.json``.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ProgressBar

from zssr.data import Father
from zssr.errors import ZSSRError
from zssr.imageio import LoadedImage, load_image, open_input, save_image
from zssr.inference import super_resolve
from zssr.kernels import as_tensor, load_kernel, save_kernel
from zssr.metrics import evaluate, shave_for
from zssr.resize import imresize, output_shape

log = logging.getLogger(__name__)

MIN_SON_SIDE = 8  # the input downscaled by the scale must keep at least this many pixels per side


# ---------------------------------------------------------------------------------------------------------- config
def parse_scale(value: Any) -> tuple[float, float]:
    """``2``, ``2.5``, ``[2, 3]`` -> ``(sh, sw)``; every factor >= 1 and at least one > 1."""
    if isinstance(value, (ListConfig, list, tuple)):
        values = list(value)
    else:
        values = [value]
    try:
        factors = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ZSSRError(f"scale must be a number or a pair [sh, sw], got {value!r}") from None
    if len(factors) == 1:
        factors = factors * 2
    if len(factors) != 2 or not all(math.isfinite(f) and f >= 1 for f in factors) or max(factors) <= 1:
        raise ZSSRError(f"scale must be >= 1 per axis and > 1 on at least one, got {value!r}")
    return factors[0], factors[1]


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


def per_step(value: Any, n: int, name: str) -> list:
    """A setting given once or once per gradual step -> one value per step (a short list repeats its last value)."""
    values = list(value) if isinstance(value, (ListConfig, list, tuple)) else [value]
    if not values:
        raise ZSSRError(f"{name} is empty")
    return [values[min(i, len(values) - 1)] for i in range(n)]


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` -> bf16 autocast where the hardware has fast bf16 (CUDA with bf16, CPUs with AVX-512 BF16 or AMX),
    fp16 autocast on older GPUs, else fp32. Explicit values: bf16, fp16, fp32 (or Lightning's own names)."""
    names = {"bf16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32-true", "32": "32-true"}
    if precision != "auto":
        return names.get(str(precision), str(precision))
    cuda = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if cuda:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    fast_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bf16-mixed" if fast_bf16 else "32-true"


def autocast_dtype(precision: str) -> torch.dtype | None:
    return {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)


# ---------------------------------------------------------------------------------------------------------- checks
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


# ---------------------------------------------------------------------------------------------------------- loggers
def make_loggers(cfg: DictConfig) -> list:
    loggers = []
    for name, conf in (cfg.get("logger") or {}).items():
        if not conf or "_target_" not in conf:
            continue
        try:
            logger = instantiate(conf)
            if "wandb" in conf._target_.lower():
                _ = logger.experiment  # start the run now, so an unreachable server is found before training
            loggers.append(logger)
        except Exception as exc:  # a dashboard must never cost the run
            warnings.warn(f"logger '{name}' unavailable ({exc.__class__.__name__}: {exc}); continuing without it",
                          stacklevel=2)
    return loggers


def log_images(loggers: list, images: dict[str, torch.Tensor]) -> None:
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            try:
                arrays = [(img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy() for img in
                          images.values()]
                logger.log_image(key="images", images=arrays, caption=list(images))
            except Exception as exc:  # never lose the result over a dashboard
                warnings.warn(f"could not log images to W&B: {exc}", stacklevel=2)


# ---------------------------------------------------------------------------------------------------------- the run
@dataclass
class Job:
    """Everything one run needs, checked before any training starts (so bad input costs nothing)."""

    image: LoadedImage
    scale: tuple[float, float]
    kernel: torch.Tensor | None
    gt: torch.Tensor | None
    gt_cropped: bool
    out_dir: Path
    out_shape: tuple[int, int]
    precision: str
    schedule: list[tuple[float, float]]
    bp_iters: list[int]
    estimate: bool = False  # kernel=estimated: learn the kernel from the input before training
    true_kernel: np.ndarray | None = None  # only to score an estimated kernel

    def auto(self, value: Any) -> bool:
        """Resolve an ``auto`` flip/turn switch: on for bicubic, off with a given (possibly asymmetric) kernel."""
        return (self.kernel is None) if value == "auto" else bool(value)


PRECISIONS = {"auto", "bf16", "fp16", "fp32", "32", "32-true", "bf16-mixed", "16-mixed"}


def check_settings(cfg: DictConfig) -> None:
    """Reject nonsensical settings in one line before anything runs."""

    def number(key: str, low: float, integer: bool = True, optional: bool = False) -> None:
        value = OmegaConf.select(cfg, key)
        if optional and value is None:
            return
        ok = isinstance(value, int) and not isinstance(value, bool) if integer else isinstance(value, (int, float))
        if not ok or value < low:
            kind = "an integer" if integer else "a number"
            raise ZSSRError(f"{key} must be {kind} >= {low:g}, got {value!r}")

    if str(cfg.precision) not in PRECISIONS:
        raise ZSSRError(f"precision must be one of {sorted(PRECISIONS)}, got {cfg.precision!r}")
    number("trainer.max_steps", 1)
    number("data.crop_size", 8)
    number("data.noise_std", 0, integer=False)
    number("data.test_max_side", 16, optional=True)
    number("inference.tile", 16)
    batching = OmegaConf.select(cfg, "inference.batch_variants")
    if batching not in (None, "auto", True, False):
        raise ZSSRError(f"inference.batch_variants must be auto, true or false, got {batching!r}")
    number("gradual_levels", 0)
    min_scale = OmegaConf.select(cfg, "data.min_scale")
    if not isinstance(min_scale, (int, float)) or not 0 < min_scale <= 1:
        raise ZSSRError(f"data.min_scale must be in (0, 1], got {min_scale!r}")
    bp_values = cfg.inference.back_projection_iters
    for bp in bp_values if isinstance(bp_values, (ListConfig, list, tuple)) else [bp_values]:
        if not isinstance(bp, int) or bp < 0:
            raise ZSSRError(f"inference.back_projection_iters must be integers >= 0, got {bp!r}")
    if str(cfg.get("kernel")) == "estimated":
        number("estimator.max_steps", 1)
        number("estimator.crop_size", 32)  # the generator's 13x13 kernel and the 7x7 discriminator need room
        number("estimator.keep", 1)
        number("estimator.back_projection_iters", 0, optional=True)
        number("estimator.son_noise_std", 0, integer=False, optional=True)
        number("estimator.sharpness_limit", 0, integer=False, optional=True)
        number("estimator.threads", 1, optional=True)


def prepare(cfg: DictConfig) -> Job:
    check_settings(cfg)
    out_dir = Path(cfg.paths.output_dir)
    check_writable(out_dir)
    scale = parse_scale(cfg.scale)
    image = open_input(cfg.input)
    check_size(image, scale)
    estimate = str(cfg.get("kernel")) == "estimated"
    kernel = as_tensor(load_kernel(cfg.kernel)) if cfg.get("kernel") and not estimate else None
    true_kernel = load_kernel(cfg.true_kernel) if cfg.get("true_kernel") else None
    out_shape = output_shape(image.size, scale)
    gt, gt_cropped = match_gt(load_image(cfg.gt), out_shape, scale) if cfg.get("gt") else (None, False)
    schedule = gradual_schedule(scale, int(cfg.get("gradual_levels") or 0))
    if (kernel is not None or estimate) and len(schedule) > 1:
        log.warning("gradual SR with a given kernel: the kernel is used for the final step, bicubic before it")
    bp_iters = [int(v) for v in per_step(cfg.inference.back_projection_iters, len(schedule),
                                         "inference.back_projection_iters")]
    cap = OmegaConf.select(cfg, "estimator.back_projection_iters") if estimate else None
    if cap is not None:  # back-projecting many times through a guessed kernel amplifies its error (final step only)
        bp_iters[-1] = min(bp_iters[-1], int(cap))
    precision = resolve_precision(str(cfg.precision), cfg.trainer.get("accelerator", "auto"))
    return Job(image, scale, kernel, gt, gt_cropped, out_dir, out_shape, precision, schedule, bp_iters, estimate,
               true_kernel)


def make_trainer(cfg: DictConfig, job: Job, loggers: list) -> pl.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c]
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if not loggers:  # Lightning refuses an LR monitor without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=job.precision,
                       default_root_dir=str(job.out_dir))


def son_noise(cfg: DictConfig, job: Job) -> float:
    """Noise on the sons: ``data.noise_std``, raised to ``estimator.son_noise_std`` when the kernel is an estimate.
    A kernel estimated too wide makes the net sharpen blur that is not there; noisy sons keep it from amplifying the
    input's fine detail into artefacts (with the back-projection cap of :func:`prepare`, this turned the 17-21 dB
    failures of the BSD100 random-kernel subset into 22-28 dB)."""
    noise = float(cfg.data.noise_std)
    if job.estimate:
        noise = max(noise, float(OmegaConf.select(cfg, "estimator.son_noise_std", default=0.0) or 0.0))
    return noise


def batch_variants(cfg: DictConfig, device: torch.device) -> bool:
    """``inference.batch_variants``; ``auto``: batch on accelerators only. On this project's 2-core CPU the batched
    ensemble was 10% slower (1.22 s against 1.07 s for a 240x160 input), since one variant already fills the cores."""
    value = cfg.inference.get("batch_variants", "auto")
    return device.type != "cpu" if value == "auto" else bool(value)


def fit_and_super_resolve(cfg: DictConfig, job: Job, trainer: pl.Trainer) -> tuple[torch.Tensor, dict[str, Any]]:
    """Train (one fit per gradual step, all on one Trainer so curves continue) and super-resolve after each step."""
    module = instantiate(cfg.model)
    image, n_steps = job.image, len(job.schedule)
    max_steps = int(cfg.trainer.max_steps)
    extra: list[Father] = []
    steps: list[dict[str, Any]] = []
    timing = {"train_seconds": 0.0, "inference_seconds": 0.0}
    noise = son_noise(cfg, job)
    sr = image.rgb
    for i, step_scale in enumerate(job.schedule):
        final = i == n_steps - 1
        step_kernel = job.kernel if final else None
        t0 = time.perf_counter()
        data = instantiate(cfg.data, image=image.rgb, scale=step_scale, kernel=step_kernel, extra_fathers=extra,
                           seed=int(cfg.get("seed") or 0) + i, rotations=job.auto(cfg.data.rotations),
                           flips=job.auto(cfg.data.flips), noise_std=noise)
        if final and job.gt is not None:
            bicubic = imresize(image.rgb, job.scale, out_shape=job.out_shape).clamp(0, 1)
            module.set_gt_probe(bicubic, job.gt, shave_for(job.scale), gray=image.gray)
        done = trainer.global_step
        trainer.fit_loop.epoch_loop.max_steps = done + max_steps
        trainer.should_stop = False
        trainer.fit(module, datamodule=data)
        t1 = time.perf_counter()
        module.eval()
        sr = super_resolve(module.net, image.rgb, step_scale, step_kernel, job.bp_iters[i],
                           rotations=job.auto(cfg.inference.rotations), flips=job.auto(cfg.inference.flips),
                           tile=int(cfg.inference.tile), autocast_dtype=autocast_dtype(job.precision),
                           memory_format=module.memory_format,
                           batch_variants=batch_variants(cfg, module.device)).cpu()
        module.train()
        timing["train_seconds"] += t1 - t0
        timing["inference_seconds"] += time.perf_counter() - t1
        lr_now = trainer.optimizers[0].param_groups[0]["lr"]
        steps.append({"scale": list(step_scale), "iterations": trainer.global_step - done, "final_lr": lr_now})
        log.info("step %d/%d scale %s: %d iterations, final lr %.1e", i + 1, n_steps, step_scale,
                 steps[-1]["iterations"], lr_now)
        if not final:
            save_image(job.out_dir / f"{image.name}_step{i + 1}.png", sr, image)
            extra.append(Father(sr, math.sqrt(step_scale[0] * step_scale[1])))
    return sr, {"steps": steps, "device": str(module.device), "son_noise_std": noise, **timing}


def estimate_for_job(cfg: DictConfig, job: Job, loggers: list) -> dict[str, Any]:
    """kernel=estimated: learn the input's kernel (:mod:`zssr.kernelgan`), save it as ``<stem>_kernel_estimated``
    (``.npy``, ``.mat`` and a picture, beside the true kernel when given) and make it the job's kernel. An image the
    estimator cannot learn from keeps the bicubic kernel, with a warning; so does an estimate rejected as too wide
    (saved as ``<stem>_kernel_rejected``)."""
    from pytorch_lightning.loggers import CSVLogger, WandbLogger

    from zssr.kernelgan import bicubic_kernel, estimate_kernel, kernel_error, kernel_figure

    own = [CSVLogger(str(job.out_dir), name="kernelgan", version="")]
    own += [logger for logger in loggers if isinstance(logger, WandbLogger)]  # same run, kernelgan/* keys
    est = estimate_kernel(job.image.rgb, job.scale, cfg.estimator, loggers=own,
                          progress=bool(cfg.trainer.get("enable_progress_bar", True)), seed=int(cfg.get("seed") or 0))
    native = est.native_sharpness
    info: dict[str, Any] = {"seconds": round(est.seconds, 3), "iterations": est.iterations,
                            "fallback": est.fallback_reason, "native_sharpness": native and round(native, 4)}
    integer = job.scale[0] == job.scale[1] and float(job.scale[0]).is_integer()
    if job.true_kernel is not None and integer:  # for reference
        info["bicubic_kernel_error"] = round(kernel_error(bicubic_kernel(int(job.scale[0])), job.true_kernel), 4)
    kernel = est.kernel if est.kernel is not None else est.rejected
    if kernel is None:
        return info
    accepted = est.kernel is not None
    stem = job.out_dir / f"{job.image.name}_kernel_{'estimated' if accepted else 'rejected'}"
    npy, mat = save_kernel(kernel, stem)  # a rejected estimate too, for a look at what was turned down
    info.update({"kernel_file" if accepted else "rejected_kernel_file": str(mat), "kernel_size": list(kernel.shape)})
    error = None if job.true_kernel is None else round(kernel_error(kernel, job.true_kernel), 4)
    if error is not None:
        info["kernel_error" if accepted else "rejected_kernel_error"] = error
        if not accepted and integer:  # the error of the kernel ZSSR is given instead: bicubic
            info["kernel_error"] = info["bicubic_kernel_error"]
    try:
        kernel_figure(stem.with_suffix(".png"), kernel, job.true_kernel,
                      title=f"{job.image.name} x{job.scale[0]:g}{'' if accepted else ' (rejected)'}"
                      + ("" if error is None else f", error {error:.3f}"))
    except Exception as exc:  # a picture must never cost the result
        warnings.warn(f"could not draw the kernel picture: {exc}", stacklevel=2)
    if accepted:
        job.kernel = as_tensor(kernel)
        log.info("estimated kernel %s in %.1f s%s", npy.name, est.seconds,
                 "" if error is None else f", error {error:.3f} against true_kernel")
    return info


def close_loggers(loggers: list, status: str) -> None:
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        try:
            logger.finalize(status)
            if isinstance(logger, WandbLogger):
                logger.experiment.finish()  # one W&B run per job: never let the next job append to this one
        except Exception as exc:  # closing a dashboard must not cost the result
            warnings.warn(f"could not close logger {logger.__class__.__name__}: {exc}", stacklevel=2)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Super-resolve ``cfg.input`` by ``cfg.scale``; write ``<stem>_zssr.png`` and ``result.json`` to
    ``cfg.paths.output_dir``; return the result dict."""
    started = time.perf_counter()
    job = prepare(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    loggers = make_loggers(cfg)
    status = "failed"
    try:
        estimation = estimate_for_job(cfg, job, loggers) if job.estimate else None
        trainer = make_trainer(cfg, job, loggers)
        sr, info = fit_and_super_resolve(cfg, job, trainer)
        if estimation is not None:
            info["kernel_estimation"] = estimation
        result = write_outputs(cfg, job, sr, info, loggers, trainer.global_step)
        result["total_seconds"] = round(time.perf_counter() - started, 3)
        (job.out_dir / "result.json").write_text(json.dumps(result, indent=2))
        status = "success"
    finally:
        close_loggers(loggers, status)
    return result


def write_outputs(cfg: DictConfig, job: Job, sr: torch.Tensor, info: dict[str, Any], loggers: list,
                  step: int) -> dict[str, Any]:
    """Save the SR image (the input's bit depth and layout; alpha upscaled bicubically), compute metrics, log."""
    image = job.image
    bicubic = imresize(image.rgb, job.scale, out_shape=job.out_shape).clamp(0, 1)
    alpha = None
    if image.alpha is not None:  # transparency is not learnt: bicubic, like the colour's starting point
        alpha = imresize(image.alpha, job.scale, out_shape=job.out_shape).clamp(0, 1)
    output_path = save_image(job.out_dir / f"{image.name}_zssr.png", sr, image, alpha)
    steps = info["steps"]
    result: dict[str, Any] = {
        "input": str(cfg.input),
        "output": str(output_path),
        "scale": list(job.scale),
        "kernel": ("estimated" if job.estimate else str(cfg.kernel)) if job.kernel is not None else "bicubic",
        "iterations": sum(s["iterations"] for s in steps),
        "seconds": round(info["train_seconds"] + info["inference_seconds"], 3),
        "train_seconds": round(info["train_seconds"], 3),
        "inference_seconds": round(info["inference_seconds"], 3),
        "final_lr": steps[-1]["final_lr"],
        "precision": job.precision,
        "device": info["device"],
        "input_size": list(image.size),
        "output_size": list(job.out_shape),
        "steps": steps,
        "seed": cfg.get("seed"),
        "son_noise_std": info["son_noise_std"],
        "back_projection_iters": job.bp_iters,
    }
    if "kernel_estimation" in info:
        result["kernel_estimation"] = info["kernel_estimation"]
    if job.gt is not None:
        result.update(evaluate(sr, job.gt, job.scale, gray=image.gray))
        base = evaluate(bicubic, job.gt, job.scale, gray=image.gray)
        result.update({f"{k}_bicubic": v for k, v in base.items()})
        result.update({"gt": str(cfg.gt), "gt_cropped": job.gt_cropped})
        for logger in loggers:
            logger.log_metrics({f"test/{k}": v for k, v in result.items() if k.startswith(("psnr", "ssim"))},
                               step=step)
        log.info("PSNR %.2f dB (bicubic %.2f), SSIM %.4f (bicubic %.4f)", result["psnr"], result["psnr_bicubic"],
                 result["ssim"], result["ssim_bicubic"])
    log_images(loggers, {"LR": image.rgb, "bicubic": bicubic, "ZSSR": sr})
    log.info("wrote %s (%.1f s, %d iterations)", output_path, result["seconds"], result["iterations"])
    return result
