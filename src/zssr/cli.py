"""The Hydra boundary: run a task, turn user errors into one line and a non-zero exit, always close W&B.

The console scripts ``zssr-train``, ``zssr-evaluate`` and ``zssr-estimate`` are the mains here; the checkout's
``train.py`` and ``evaluate.py`` are the same mains with the checkout's ``conf/``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from zssr.errors import ZSSRError
from zssr.tracking import finish_wandb

PACKAGED_CONF = "pkg://zssr.conf"


def quiet_libraries() -> None:
    """Silence chatter that says nothing to a ZSSR user (Lightning's tips about workers and hardware)."""
    for pattern in (".*does not have many workers.*", ".*IterableDataset.*__len__.*", ".*GPU available but not used.*",
                    ".*Total length of `.*` across ranks is zero.*", ".*isinstance\\(treespec, LeafSpec\\).*"):
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.accelerators.cuda").setLevel(logging.WARNING)


def job_threads(requested: Any, cpus: int | None = None, launcher: Any = None) -> int | None:
    """Torch threads for this job: ``threads`` when set; under the joblib launcher with ``n_jobs`` parallel jobs,
    an even share of the cores (so parallel jobs never oversubscribe the CPU, which slows small convolutions many
    times over); otherwise None (torch's default, all cores)."""
    if requested:
        return int(requested)
    if launcher is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            launcher = HydraConfig.get().launcher if HydraConfig.initialized() else None
        except Exception:  # not under Hydra (tests, notebooks)
            launcher = None
    if not launcher or "joblib" not in str(launcher.get("_target_", "")).lower():
        return None
    cpus = cpus or os.cpu_count() or 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    n_jobs = cpus if n_jobs < 0 else n_jobs  # joblib: -1 = one job per core
    return max(1, cpus // max(1, n_jobs))


def config_errors() -> tuple[type[BaseException], ...]:
    """The libraries' exceptions for a config value they refused. Lightning's is only looked up once Lightning is
    loaded: it is loaded lazily, so that bad input is reported before its few seconds of import time."""
    errors: list[type[BaseException]] = [InstantiationException, OmegaConfBaseException]
    fabric = sys.modules.get("lightning_fabric.utilities.exceptions")
    if fabric is not None:
        errors.append(fabric.MisconfigurationException)
    return tuple(errors)


def run_task(target: str, cfg: DictConfig) -> dict[str, Any] | None:
    """Run ``target`` (``module:function``, e.g. ``zssr.pipeline:train``) on ``cfg`` for an entry point."""
    module_name, function_name = target.split(":")
    quiet_libraries()
    threads = job_threads(cfg.get("threads"))
    if threads:
        import torch

        torch.set_num_threads(threads)
        logging.getLogger(__name__).info("torch threads for this job: %d", threads)
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        return function(cfg)
    except ZSSRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except config_errors() as exc:
        # a config value the libraries refused: their message names the key and the problem; keep it on one line
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"error: invalid configuration: {message or exc.__class__.__name__}", file=sys.stderr)
        sys.exit(1)
    finally:
        finish_wandb()


def train_task(cfg: DictConfig) -> float | None:
    """train.py: returns the PSNR (when a ground truth is given) for sweepers."""
    result = run_task("zssr.pipeline:train", cfg)
    return result.get("psnr") if result else None


def evaluate_task(cfg: DictConfig) -> float | None:
    """evaluate.py: prints the means and where the report is; returns ZSSR's mean PSNR for sweepers."""
    summary = run_task("zssr.evaluation:evaluate", cfg)
    if not summary:
        return None
    out = cfg.paths.output_dir
    means = ", ".join(f"{method} {m['psnr']:.2f} dB / {m['ssim']:.4f}" for method, m in summary["methods"].items()
                      if m.get("psnr") is not None)
    print(f"{summary['dataset']} x{summary['scale']}, {summary['n_images']} image(s), PSNR / SSIM on Y: "
          f"{means or 'no ground truth'}")
    print(f"report: {out}/{summary['files']['report']}")
    for crops in summary["files"]["crops"][:3]:
        print(f"side by side (LR, bicubic, ZSSR, HR): {out}/{crops}")
    return summary["methods"].get("zssr", {}).get("psnr")


def estimate_task(cfg: DictConfig) -> None:
    """python -m zssr.estimate: the kernel's file is printed."""
    run_task("zssr.estimate:estimate", cfg)


train_main = hydra.main(version_base="1.3", config_path=PACKAGED_CONF, config_name="train")(train_task)
evaluate_main = hydra.main(version_base="1.3", config_path=PACKAGED_CONF, config_name="evaluate")(evaluate_task)
estimate_main = hydra.main(version_base="1.3", config_path=PACKAGED_CONF, config_name="estimate")(estimate_task)
