"""The W&B dashboard of an evaluate job: one run per job (grouped by sweep), per-image metrics, a results table,
image panels and summary metrics. Anything W&B fails at becomes a warning: the benchmark itself never stops for it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


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
    """A no-op unless ``cfg.logger.wandb`` is configured (``logger=wandb``)."""

    def __init__(self, cfg: DictConfig, out_dir: Path, name: str) -> None:
        self.run = None
        self.out_dir = out_dir
        conf = (cfg.get("logger") or {}).get("wandb")
        if not conf:
            return
        try:
            import wandb

            self.run = wandb.init(project=conf.get("project", "zssr"), group=sweep_group(conf.get("group") or name),
                                  name=name, dir=str(out_dir), tags=list(conf.get("tags") or []), reinit="create_new",
                                  config=OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
        except Exception as exc:
            self._warn("start", exc)

    def _warn(self, what: str, exc: Exception) -> None:
        warnings.warn(f"W&B: could not {what} ({exc.__class__.__name__}: {exc}); continuing without it", stacklevel=3)
        self.run = None

    def log_image_rows(self, index: int, rows: list[dict[str, Any]], crops: Path | None) -> None:
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
            self.run.log(data)
        except Exception as exc:
            self._warn("log an image", exc)

    def finish(self, summary: dict[str, Any], rows: list[dict[str, str]]) -> None:
        if self.run is None:
            return
        try:
            import wandb

            if rows:
                columns = list(rows[0])
                self.run.log({"results": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])})
            plot = self.out_dir / "psnr_gain.png"
            if plot.is_file():
                self.run.log({"psnr_gain": wandb.Image(str(plot), caption="PSNR gain of ZSSR over bicubic per image")})
            for method, values in summary["methods"].items():
                for key, value in values.items():
                    if value is not None:
                        self.run.summary[f"{method}/{key}"] = value
            self.run.finish()
        except Exception as exc:
            self._warn("finish the run", exc)
