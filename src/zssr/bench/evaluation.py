"""The benchmark job behind ``evaluate.py``: every image of a dataset, degraded, super-resolved by each method.

Per image: HR -> degradation (seeded per image) -> LR and kernel saved -> each method (``bicubic`` interpolation,
``zssr`` with a fresh datamodule/module/callbacks/Trainer) -> a row per method in ``metrics.csv``, written atomically as
soon as the image is done, so a killed run resumes where it stopped. At the end: ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict
from tqdm import tqdm

from zssr.bench.datasets import Dataset, ImageRef, build_dataset, check_images
from zssr.bench.report import side_by_side, write_report
from zssr.bench.rundir import claim
from zssr.bench.table import MetricsFile
from zssr.degradations import Degradation, Degraded, image_seed
from zssr.errors import ZSSRError
from zssr.ops.imageio import LoadedImage, save_image
from zssr.ops.kernels import save_kernel
from zssr.ops.metrics import evaluate as image_metrics
from zssr.ops.resize import imresize
from zssr.run.job import check_output
from zssr.run.pipeline import run
from zssr.run.results import write_json
from zssr.run.settings import check_settings, parse_scale
from zssr.run.signals import deferred
from zssr.run.tracking import Dashboard

log = logging.getLogger(__name__)

METHODS = ("bicubic", "zssr")
KERNELS = ("bicubic", "true", "estimated")


def kernel_name(value: Any) -> str:
    """``kernel=true`` reaches us as the boolean True from Hydra's parser."""
    return "true" if value is True else str(value)


def estimator_name(cfg: DictConfig) -> str:
    """Which estimator made the kernels (``estimator.name``); empty unless ``kernel=estimated``."""
    if kernel_name(cfg.kernel) != "estimated":
        return ""
    return str(OmegaConf.select(cfg, "estimator.name", default=None) or "kernelgan")


def image_config(cfg: DictConfig, lr_path: Path, gt_path: Path | None, kernel: Path | str | None, out_dir: Path,
                 true_kernel: Path | None = None) -> DictConfig:
    """The train config for one image: the evaluate config itself (it composes the same groups as train.py) with this
    image's files. Training curves go to each image's CSV log; W&B gets one run per evaluate job (the dashboard), not
    one per image."""
    one = cfg.copy()
    with open_dict(one):
        one.paths.output_dir = str(out_dir)
        one.input = str(lr_path)
        one.gt = str(gt_path) if gt_path else None
        one.kernel = str(kernel) if kernel else None  # a file, or "estimated"
        one.true_kernel = str(true_kernel) if true_kernel else None
        one.logger = {k: v for k, v in (cfg.get("logger") or {}).items() if k != "wandb"}
    return one


def _bicubic_row(lr, gt, scale, image: LoadedImage, like: LoadedImage, path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    sr = imresize(lr, scale).clamp(0, 1)
    save_image(path, sr, like)
    row: dict[str, Any] = {"seconds": time.perf_counter() - t0, "iterations": 0}
    if gt is not None:
        row.update(image_metrics(sr, gt, scale, gray=image.gray))
    return row


def _zssr_row(cfg: DictConfig, lr_path: Path, gt_path: Path | None, kernel_path: Path | None,
              image_dir: Path) -> tuple[dict[str, Any], Path]:
    given = {"true": kernel_path, "estimated": "estimated"}.get(kernel_name(cfg.kernel))
    result = run(image_config(cfg, lr_path, gt_path, given, image_dir / "zssr", true_kernel=kernel_path))
    row = {"psnr": result.psnr, "ssim": result.ssim, "psnr_rgb": result.psnr_rgb, "seconds": result.seconds,
           "iterations": result.iterations}
    if result.kernel_estimation is not None:
        row["kernel_error"] = result.kernel_estimation.kernel_error
        row["estimation_seconds"] = result.kernel_estimation.seconds
    return row, Path(result.output)


def kernel_picture(image_dir: Path) -> Path | None:
    """The picture of the kernel estimated for this image beside its true kernel (``kernel=estimated``), if any."""
    found = sorted((image_dir / "zssr").glob("*_kernel_estimated.png")) or sorted(
        (image_dir / "zssr").glob("*_kernel_rejected.png"))
    return found[0] if found else None


def run_methods(cfg: DictConfig, ref: ImageRef, image: LoadedImage, deg: Degraded | None, image_dir: Path,
                scale: tuple[float, float]) -> tuple[list[dict[str, Any]], Path | None]:
    """All methods on one image: the metrics rows (metrics empty without ground truth) and the side-by-side crops."""
    lr = deg.lr if deg is not None else image.rgb
    gt = deg.hr if deg is not None else None
    like = LoadedImage(rgb=lr, gray=image.gray, bits=8, name=ref.name)
    lr_path = save_image(image_dir / f"{ref.name}_lr.png", lr, like)
    gt_path = save_image(image_dir / f"{ref.name}_hr.png", gt, like) if gt is not None else None
    kernel_path = None
    if deg is not None and deg.kernel is not None:
        kernel_path = save_kernel(deg.kernel, image_dir / f"{ref.name}_kernel")[1]
    bicubic_path, zssr_path = image_dir / f"{ref.name}_bicubic.png", None
    rows = []
    for method in cfg.methods:
        if method == "bicubic":
            row = _bicubic_row(lr, gt, scale, image, like, bicubic_path)
        else:
            row, zssr_path = _zssr_row(cfg, lr_path, gt_path, kernel_path, image_dir)
        row.update({**labels(cfg, scale), "image": ref.name, "method": method})
        rows.append(row)
    crops = None
    if zssr_path is not None and gt_path is not None:
        crops = side_by_side(image_dir / f"{ref.name}_crops.png", [lr_path, bicubic_path, zssr_path, gt_path])
    return rows, crops


def summarize(cfg: DictConfig, rows: list[dict[str, str]], scale: tuple[float, float],
              skipped: dict[str, str]) -> dict[str, Any]:
    """The means per method over the rows really in ``metrics.csv`` (every shard's), and the images skipped."""
    methods: dict[str, dict[str, float]] = {}
    images = sorted({r["image"] for r in rows})
    for method in cfg.methods:
        sel = [r for r in rows if r["method"] == method]
        entry = {"n": len(sel), "seconds": _mean(sel, "seconds"), "iterations": _mean(sel, "iterations")}
        for key in ("psnr", "ssim", "psnr_rgb"):
            entry[key] = _mean(sel, key)
        for key in ("kernel_error", "estimation_seconds"):  # kernel=estimated only
            value = _mean(sel, key)
            if value is not None:
                entry[key] = value
        methods[method] = entry
    return {"dataset": cfg.dataset.name, "degradation": cfg.degradation.name, "kernel": kernel_name(cfg.kernel),
            "estimator": estimator_name(cfg), "scale": scale[0] if scale[0] == scale[1] else list(scale),
            "n_images": len(images), "methods": methods,
            "skipped": [{"image": name, "reason": reason} for name, reason in skipped.items()]}


def _mean(rows: list[dict[str, str]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return float(np.mean(values)) if values else None


def check(cfg: DictConfig) -> tuple[tuple[float, float], Dataset, Degradation | None]:
    """The evaluate-level settings, the dataset, the degradation (run once on a small grey image), and ZSSR's
    settings, before any image (not when the first one reaches ZSSR)."""
    scale = parse_scale(cfg.scale)
    if kernel_name(cfg.kernel) not in KERNELS:
        raise ZSSRError(f"kernel must be one of {', '.join(KERNELS)}, got {cfg.kernel}")
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ZSSRError(f"unknown method(s) {', '.join(unknown)} (choose from {', '.join(METHODS)})")
    if "zssr" in cfg.methods:
        check_settings(cfg)
        if kernel_name(cfg.kernel) == "estimated":
            from zssr.estimators import build_estimator

            build_estimator(cfg.estimator)
    dataset = build_dataset(cfg.dataset)
    if not dataset.has_gt:
        return scale, dataset, None
    if scale[0] != scale[1]:
        raise ZSSRError(f"benchmark degradations need one integer scale, got {list(scale)}")
    degradation = Degradation.from_config(cfg.degradation)
    degradation.check(scale[0])
    return scale, dataset, degradation


def labels(cfg: DictConfig, scale: tuple[float, float]) -> dict[str, str]:
    """What every row of ``metrics.csv`` says it is a result of (also recorded in ``run.json``)."""
    return {"dataset": cfg.dataset.name, "degradation": cfg.degradation.name, "kernel": kernel_name(cfg.kernel),
            "estimator": estimator_name(cfg),
            "scale": f"{scale[0]:g}" if scale[0] == scale[1] else f"{scale[0]:g}x{scale[1]:g}"}


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the evaluation described by ``cfg``; return the summary."""
    scale, ds, degradation = check(cfg)
    refs = ds.select(int(cfg.seed))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = MetricsFile(out_dir / "metrics.csv")
    claim(out_dir, cfg, {**labels(cfg, scale), "methods": list(cfg.methods)}, table)
    todo = [r for r in refs if not table.done(r.name, list(cfg.methods))]
    if len(todo) < len(refs):
        log.info("resuming: %d of %d images already done", len(refs) - len(todo), len(refs))
    max_pixels = cfg.get("max_input_pixels")
    output = None if degradation else lambda image: check_output(image.size, scale, cfg.get("max_output_pixels"))
    todo, skipped = check_images(todo, max_pixels, ds.on_bad_image, output)
    for name, reason in skipped.items():
        log.warning("skipping %s: %s", name, reason)
    kernel = "-".join(filter(None, (kernel_name(cfg.kernel), estimator_name(cfg))))
    title = f"{ds.name}-{cfg.degradation.name}-kernel_{kernel}-x{cfg.scale}"
    dashboard = Dashboard(cfg, out_dir, title)
    for index, ref in enumerate(tqdm(todo, desc=title, unit="image", dynamic_ncols=True)):
        image = ref.load(max_pixels)
        deg = None
        if degradation is not None:
            deg = degradation(image.rgb, scale[0], image_seed(int(cfg.seed), ds.name, ref.name, degradation.name,
                                                              scale[0]))
        image_dir = out_dir / "images" / ref.name
        image_dir.mkdir(parents=True, exist_ok=True)
        rows, crops = run_methods(cfg, ref, image, deg, image_dir, scale)
        with deferred():  # an interruption never separates an image's rows
            table.add(rows)
        dashboard.log_image_rows(index, rows, crops, kernel_picture(image_dir))
    with table.locked() as all_rows, deferred():  # the summary of every shard's rows, never of half a write
        summary = summarize(cfg, all_rows, scale, skipped)
        images = sorted({r["image"] for r in all_rows})
        crops = [c for c in (out_dir / "images" / i / f"{i}_crops.png" for i in images) if c.is_file()]
        kernels = {i: k for i in images if (k := kernel_picture(out_dir / "images" / i)) is not None}
        plot = write_report(out_dir / "report.md", summary, all_rows, crops, kernels)
        summary["files"] = {"report": "report.md", "crops": [c.relative_to(out_dir).as_posix() for c in crops]}
        if kernels:
            summary["files"]["kernels"] = {i: k.relative_to(out_dir).as_posix() for i, k in kernels.items()}
        write_json(out_dir / "summary.json", summary)
    dashboard.finish(summary, all_rows, plot)
    return summary
