"""Loggers and W&B, all in one place: a run's Lightning loggers (CSV, W&B) from ``cfg.logger``, the evaluate job's
dashboard run, and closing whatever W&B run is left open. A dashboard never costs a result: what W&B fails at becomes a
warning."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def _warn(what: str, exc: Exception) -> None:
    warnings.warn(f"{what} ({exc.__class__.__name__}: {exc}); continuing without it", stacklevel=3)


def make_loggers(cfg: DictConfig) -> list:
    loggers = []
    for name, conf in (cfg.get("logger") or {}).items():
        if not conf or "_target_" not in conf:
            continue
        try:
            logger = instantiate(conf)
            if "wandb" in conf._target_.lower():
                url = logger.experiment.url  # start the run now, so an unreachable server is found before training
                if url:
                    log.info("W&B run: %s", url)
            loggers.append(logger)
        except Exception as exc:
            _warn(f"logger '{name}' unavailable", exc)
    return loggers


def close_loggers(loggers: list, status: str) -> None:
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        try:
            logger.finalize(status)
            if isinstance(logger, WandbLogger):
                logger.experiment.finish()  # one W&B run per job: never let the next job append to this one
        except Exception as exc:
            _warn(f"could not close logger {logger.__class__.__name__}", exc)


@contextmanager
def run_loggers(cfg: DictConfig) -> Iterator[list]:
    """The run's loggers, finalised as ``success`` when the block ends normally, else ``failed``."""
    loggers = make_loggers(cfg)
    status = "failed"
    try:
        yield loggers
        status = "success"
    finally:
        close_loggers(loggers, status)


def log_images(loggers: list, images: dict[str, torch.Tensor]) -> None:
    """Image panels (``(3, H, W)`` in [0, 1]) on the W&B loggers."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            try:
                arrays = [(img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy() for img in
                          images.values()]
                logger.log_image(key="images", images=arrays, caption=list(images))
            except Exception as exc:
                _warn("could not log images to W&B", exc)


def finish_wandb() -> None:
    """Close a W&B run a task left open (an error mid-run), so the next job of a multirun starts its own."""
    wandb = sys.modules.get("wandb")  # never imported: nothing to close (and no second of import time)
    try:
        if wandb is not None and wandb.run is not None:
            wandb.finish()
    except Exception:  # closing a dashboard must not hide the real outcome
        pass


def sweep_group(default: str) -> str:
    """Jobs of one multirun share a W&B group named after the sweep folder; a single run uses ``default``."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return Path(HydraConfig.get().sweep.dir).name
    except Exception:  # outside Hydra (tests, notebooks)
        pass
    return str(default)


class Dashboard:
    """The W&B run of an evaluate job: per-image metrics and crops, then the results table, the gain plot and the
    summary. A no-op unless ``cfg.logger.wandb`` is configured (``logger=wandb``)."""

    def __init__(self, cfg: DictConfig, out_dir: Path, name: str) -> None:
        self.run = None
        conf = (cfg.get("logger") or {}).get("wandb")
        if not conf:
            return
        try:
            import wandb

            settings = instantiate(conf.settings) if conf.get("settings") else None  # the init timeout
            self.run = wandb.init(project=conf.get("project", "zssr"), group=sweep_group(conf.get("group") or name),
                                  name=name, dir=str(out_dir), tags=list(conf.get("tags") or []), reinit="create_new",
                                  settings=settings,
                                  config=OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
        except Exception as exc:
            self._fail("W&B: could not start", exc)

    def _fail(self, what: str, exc: Exception) -> None:
        _warn(what, exc)
        self.run = None

    def log_image_rows(self, index: int, rows: list[dict[str, Any]], crops: Path | None,
                       kernel: Path | None = None) -> None:
        if self.run is None:
            return
        try:
            import wandb

            data: dict[str, Any] = {"image_index": index}
            for row in rows:
                for key in ("psnr", "ssim", "seconds", "iterations"):
                    if row.get(key) is not None:
                        data[f"{row['method']}/{key}"] = row[key]
            if crops is not None and crops.is_file():
                data["crops"] = wandb.Image(str(crops), caption=f"{rows[0]['image']}: LR, bicubic, ZSSR, HR")
            if kernel is not None and kernel.is_file():
                data["kernel"] = wandb.Image(str(kernel), caption=f"{rows[0]['image']}: estimated kernel, true kernel")
            self.run.log(data)
        except Exception as exc:
            self._fail("W&B: could not log an image", exc)

    def finish(self, summary: dict[str, Any], rows: list[dict[str, str]], gain_plot: Path | None) -> None:
        if self.run is None:
            return
        try:
            import wandb

            if rows:
                columns = list(rows[0])
                self.run.log({"results": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])})
            if gain_plot is not None:
                self.run.log({"psnr_gain": wandb.Image(str(gain_plot),
                                                       caption="PSNR gain of ZSSR over bicubic per image")})
            for method, values in summary["methods"].items():
                for key, value in values.items():
                    if value is not None:
                        self.run.summary[f"{method}/{key}"] = value
            self.run.finish()
        except Exception as exc:
            self._fail("W&B: could not finish the run", exc)
