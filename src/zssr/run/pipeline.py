"""One image, start to finish: inputs -> kernel plan -> (gradual) test-time training -> inference -> metrics -> files.

:func:`train` is the testable core behind ``train.py``: it takes a composed Hydra config, writes ``<stem>_zssr.png``
and ``result.json`` (:class:`zssr.run.results.RunResult`) to ``cfg.paths.output_dir`` and returns the result as a dict.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from zssr.ops.imageio import save_image
from zssr.ops.metrics import evaluate
from zssr.ops.resize import imresize
from zssr.run.job import Job, prepare, read_inputs
from zssr.run.results import RunResult, Scores
from zssr.run.signals import deferred
from zssr.run.tracking import log_images, run_loggers

if TYPE_CHECKING:
    from zssr.method.gradual import Outcome

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> RunResult:
    """Super-resolve ``cfg.input`` by ``cfg.scale``; the typed result (also written to ``result.json``)."""
    started = time.perf_counter()
    inputs = read_inputs(cfg)  # bad input stops here, before Lightning is even imported
    import pytorch_lightning as pl

    from zssr.method.gradual import fit_and_super_resolve, make_trainer

    if cfg.seed is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    with run_loggers(cfg) as loggers:
        job = prepare(cfg, inputs, loggers)
        trainer = make_trainer(cfg, job, loggers)
        outcome = fit_and_super_resolve(cfg, job, trainer)
        with deferred():  # an interruption never leaves the image without its result.json
            result = write_outputs(cfg, job, outcome, loggers, trainer.global_step)
            result.total_seconds = round(time.perf_counter() - started, 3)
            result.write(inputs.out_dir / "result.json")
    return result


def train(cfg: DictConfig) -> dict[str, Any]:
    """:func:`run`, the result as the dict written to ``result.json``."""
    return run(cfg).to_dict()


def kernel_label(cfg: DictConfig, job: Job) -> str:
    return {"given": str(cfg.kernel), "estimated": "estimated", "fitted": "estimated"}.get(job.plan.mode, "bicubic")


def write_outputs(cfg: DictConfig, job: Job, outcome: Outcome, loggers: list, step: int) -> RunResult:
    """Save the SR image (the input's bit depth and layout; alpha upscaled bicubically), compute metrics, log."""
    inputs, image = job.inputs, job.inputs.image
    bicubic = imresize(image.rgb, inputs.scale, out_shape=inputs.out_shape).clamp(0, 1)
    alpha = None
    if image.alpha is not None:  # transparency is not learnt: bicubic, like the colour's starting point
        alpha = imresize(image.alpha, inputs.scale, out_shape=inputs.out_shape).clamp(0, 1)
    output_path = save_image(inputs.out_dir / f"{image.name}_zssr.png", outcome.sr, image, alpha)
    result = RunResult(
        input=str(cfg.input), output=str(output_path), scale=list(inputs.scale), kernel=kernel_label(cfg, job),
        iterations=sum(s.iterations for s in outcome.steps), train_flops=outcome.train_flops,
        seconds=round(outcome.train_seconds + outcome.inference_seconds, 3),
        train_seconds=round(outcome.train_seconds, 3), inference_seconds=round(outcome.inference_seconds, 3),
        final_lr=outcome.steps[-1].final_lr, precision=inputs.compute.precision, device=outcome.device,
        input_size=list(image.size), output_size=list(inputs.out_shape), steps=outcome.steps, seed=cfg.seed,
        son_noise_std=job.plan.son_noise_std, back_projection_iters=job.back_projection_iters,
        plan=job.plan.to_dict(), compute=inputs.compute.to_dict(), kernel_estimation=job.estimation)
    if inputs.gt is not None:
        result.add_scores(Scores(**evaluate(outcome.sr, inputs.gt, inputs.scale, gray=image.gray)),
                          Scores(**evaluate(bicubic, inputs.gt, inputs.scale, gray=image.gray)))
        result.gt, result.gt_cropped = str(cfg.gt), inputs.gt_cropped
        scores = {k: v for k, v in result.to_dict().items() if k.startswith(("psnr", "ssim"))}
        for logger in loggers:
            logger.log_metrics({f"test/{k}": v for k, v in scores.items() if v is not None}, step=step)
        log.info("PSNR %.2f dB (bicubic %.2f), SSIM %.4f (bicubic %.4f)", result.psnr, result.psnr_bicubic,
                 result.ssim, result.ssim_bicubic)
    log_images(loggers, {"LR": image.rgb, "bicubic": bicubic, "ZSSR": outcome.sr})
    log.info("wrote %s (%.1f s, %d iterations)", output_path, result.seconds, result.iterations)
    return result
