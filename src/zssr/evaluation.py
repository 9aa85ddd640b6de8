"""The benchmark job behind ``evaluate.py``: every image of a dataset, degraded, super-resolved by each method.

Per image: HR -> degradation (seeded per image) -> LR and kernel saved -> each method (``bicubic`` interpolation,
``zssr`` with a fresh datamodule/module/callbacks/Trainer) -> a row per method in ``metrics.csv``, written atomically as
soon as the image is done, so a killed run resumes where it stopped. At the end: ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict
from PIL import Image
from tqdm import tqdm

from zssr.dashboard import Dashboard
from zssr.datasets import ImageRef, list_images
from zssr.degradations import Degraded, degrade, image_seed
from zssr.errors import ZSSRError
from zssr.imageio import LoadedImage, save_image
from zssr.kernels import save_kernel
from zssr.metrics import evaluate as image_metrics
from zssr.pipeline import check_settings, parse_scale, train
from zssr.reference import paper_value
from zssr.resize import imresize

log = logging.getLogger(__name__)

COLUMNS = ["dataset", "degradation", "kernel", "scale", "image", "method", "psnr", "ssim", "psnr_rgb", "seconds",
           "iterations", "kernel_error", "estimation_seconds"]
METHODS = ("bicubic", "zssr")
KERNELS = ("bicubic", "true", "estimated")


def kernel_name(value: Any) -> str:
    """``kernel=true`` reaches us as the boolean True from Hydra's parser."""
    return "true" if value is True else str(value)


class MetricsFile:
    """``metrics.csv``: rewritten whole through a temporary file and ``os.replace``, so it is never half written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file():
            with open(path, newline="") as fh:
                self.rows = list(csv.DictReader(fh))

    def done(self, image: str, methods: list[str]) -> bool:
        have = {r["method"] for r in self.rows if r["image"] == image}
        return set(methods) <= have

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend({k: _fmt(r.get(k)) for k in COLUMNS} for r in rows)
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if np.isfinite(value) else str(value)
    return str(value)


def zssr_config(cfg: DictConfig, lr_path: Path, gt_path: Path | None, kernel: Path | str | None,
                out_dir: Path, true_kernel: Path | None = None) -> DictConfig:
    """The train.py config for one image: the evaluate config's ZSSR groups plus this image's files. Training curves
    go to each image's CSV log; W&B gets one run per evaluate job (:mod:`zssr.dashboard`), not one per image."""
    keys = ["paths", "data", "model", "callbacks", "trainer", "inference", "estimator", "precision", "gradual_levels",
            "seed", "scale"]
    one = OmegaConf.create({k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig)
                            else cfg[k] for k in keys})
    with open_dict(one):
        one.paths.output_dir = str(out_dir)
        one.input = str(lr_path)
        one.gt = str(gt_path) if gt_path else None
        one.kernel = str(kernel) if kernel else None  # a file, or "estimated"
        one.true_kernel = str(true_kernel) if true_kernel else None
        one.task_name = "evaluate"
        # unresolved, so ${paths.output_dir} lands in this image's folder
        loggers = OmegaConf.to_container(cfg.logger, resolve=False) if cfg.get("logger") else {}
        one.logger = {k: v for k, v in loggers.items() if k != "wandb"}
    return one


def run_methods(cfg: DictConfig, ref: ImageRef, image: LoadedImage, deg: Degraded | None, image_dir: Path,
                scale: tuple[float, float]) -> list[dict[str, Any]]:
    """All methods on one image; returns the metrics rows (metrics empty when there is no ground truth)."""
    lr = deg.lr if deg is not None else image.rgb
    gt = deg.hr if deg is not None else None
    like = LoadedImage(rgb=lr, gray=image.gray, bits=8, name=ref.name)
    lr_path = save_image(image_dir / f"{ref.name}_lr.png", lr, like)
    gt_path = save_image(image_dir / f"{ref.name}_hr.png", gt, like) if gt is not None else None
    kernel_path = None
    if deg is not None and deg.kernel is not None:
        kernel_path = save_kernel(deg.kernel, image_dir / f"{ref.name}_kernel")[1]
    kernel_choice = kernel_name(cfg.kernel)
    scale_label = f"{scale[0]:g}" if scale[0] == scale[1] else f"{scale[0]:g}x{scale[1]:g}"
    rows = []
    for method in cfg.methods:
        t0 = time.perf_counter()
        if method == "bicubic":
            sr = imresize(lr, scale).clamp(0, 1)
            save_image(image_dir / f"{ref.name}_bicubic.png", sr, like)
            row: dict[str, Any] = {"seconds": time.perf_counter() - t0, "iterations": 0}
            if gt is not None:
                row.update(image_metrics(sr, gt, scale, gray=image.gray))
        elif method == "zssr":
            given = {"true": kernel_path, "estimated": "estimated"}.get(kernel_choice)
            result = train(zssr_config(cfg, lr_path, gt_path, given, image_dir / "zssr", true_kernel=kernel_path))
            row = {k: result.get(k) for k in ("psnr", "ssim", "psnr_rgb", "seconds", "iterations")}
            estimation = result.get("kernel_estimation")
            if estimation:
                row["kernel_error"] = estimation.get("kernel_error")
                row["estimation_seconds"] = estimation.get("seconds")
        else:
            raise ZSSRError(f"unknown method '{method}' (choose from {', '.join(METHODS)})")
        row.update({"dataset": cfg.dataset.name, "degradation": cfg.degradation.name, "kernel": kernel_choice,
                    "scale": scale_label, "image": ref.name, "method": method})
        rows.append(row)
    return rows


def summarize(cfg: DictConfig, table: MetricsFile, scale: tuple[float, float]) -> dict[str, Any]:
    methods: dict[str, dict[str, float]] = {}
    images = sorted({r["image"] for r in table.rows})
    for method in cfg.methods:
        sel = [r for r in table.rows if r["method"] == method]
        entry = {"n": len(sel), "seconds": _mean(sel, "seconds"), "iterations": _mean(sel, "iterations")}
        for key in ("psnr", "ssim", "psnr_rgb"):
            entry[key] = _mean(sel, key)
        for key in ("kernel_error", "estimation_seconds"):  # kernel=estimated only
            value = _mean(sel, key)
            if value is not None:
                entry[key] = value
        methods[method] = entry
    return {"dataset": cfg.dataset.name, "degradation": cfg.degradation.name, "kernel": kernel_name(cfg.kernel),
            "scale": scale[0] if scale[0] == scale[1] else list(scale), "n_images": len(images), "methods": methods}


def _mean(rows: list[dict[str, str]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return float(np.mean(values)) if values else None


def write_report(path: Path, summary: dict[str, Any], table: MetricsFile) -> None:
    """``report.md``: the means with the paper's numbers and deltas, and per-image gains over bicubic."""
    scale = summary["scale"]
    scale_text = f"{scale:g}" if isinstance(scale, float) else "x".join(map(str, scale))
    lines = [f"# ZSSR evaluation: {summary['dataset']}, {summary['degradation']} degradation, x{scale_text}, "
             f"kernel given to ZSSR: {summary['kernel']}", "", f"{summary['n_images']} images.", "",
             "| method | PSNR | SSIM | paper PSNR | paper SSIM | delta PSNR | seconds | iterations |",
             "|---|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    for method, m in summary["methods"].items():
        paper = paper_value(summary["dataset"], summary["degradation"], scale if isinstance(scale, float) else 0,
                            method, summary["kernel"])
        psnr, ssim = m.get("psnr"), m.get("ssim")
        cells = [method, _num(psnr, 2), _num(ssim, 4), _num(paper and paper[0], 2), _num(paper and paper[1], 4),
                 _num(psnr - paper[0] if paper and psnr is not None else None, 2, signed=True),
                 _num(m.get("seconds"), 1), _num(m.get("iterations"), 0)]
        lines.append("| " + " | ".join(cells) + " |")
        if m.get("kernel_error") is not None or m.get("estimation_seconds") is not None:
            notes.append(f"Kernels estimated from each LR image ({method}): mean relative error "
                         f"{_num(m.get('kernel_error'), 3) or 'n/a (no true kernel)'} against the true kernel (L2, "
                         f"centres aligned), {_num(m.get('estimation_seconds'), 1)} s per image on top of the seconds "
                         "above.")
    if notes:
        lines += ["", *notes]
    by_image: dict[str, dict[str, float]] = {}
    for r in table.rows:
        if r.get("psnr"):
            by_image.setdefault(r["image"], {})[r["method"]] = float(r["psnr"])
    gains = [(img, v["zssr"] - v["bicubic"]) for img, v in by_image.items() if {"zssr", "bicubic"} <= set(v)]
    if gains:
        gains.sort(key=lambda x: -x[1])
        plot = gain_plot(path.parent / "psnr_gain.png", gains,
                         f"{summary['dataset']}, {summary['degradation']}, x{scale_text}, kernel {summary['kernel']}")
        lines += ["", "## PSNR gain of ZSSR over bicubic per image", "", f"![PSNR gain per image]({plot.name})", "",
                  "| image | gain (dB) |", "|---|---|"]
        lines += [f"| {img} | {g:+.2f} |" for img, g in gains]
    # the strips were made as each image finished (see evaluate); the report only links the first few
    crops = [path.parent / "images" / img / f"{img}_crops.png" for img in sorted({r["image"] for r in table.rows})]
    crops = [c for c in crops if c.is_file()][:3]
    if crops:
        lines += ["", "## Centre crops: LR, bicubic, ZSSR, HR", ""]
        lines += [f"![{c.stem}]({c.relative_to(path.parent).as_posix()})" for c in crops]
    path.write_text("\n".join(lines) + "\n")


def gain_plot(path: Path, gains: list[tuple[str, float]], title: str) -> Path:
    """A bar chart of the per-image PSNR gain (dB) of ZSSR over bicubic interpolation, with the mean marked."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names, values = zip(*gains, strict=True)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(gains) + 1.5), 3.2), layout="constrained")
    ax.bar(range(len(values)), values, color=["tab:blue" if v >= 0 else "tab:red" for v in values])
    mean = sum(values) / len(values)
    ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:+.2f} dB")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("PSNR gain over bicubic (dB)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def side_by_side(image_dir: Path, name: str, size: int = 96) -> Path | None:
    """One strip of the same centre crop of LR (pixel-repeated), bicubic, ZSSR and HR: ``<name>_crops.png``."""
    files = [image_dir / f"{name}_lr.png", image_dir / f"{name}_bicubic.png",
             image_dir / "zssr" / f"{name}_lr_zssr.png", image_dir / f"{name}_hr.png"]
    if not all(f.is_file() for f in files[1:]):
        return None
    panels = [Image.open(f).convert("RGB") for f in files]
    width, height = panels[-1].size
    panels[0] = panels[0].resize((width, height), Image.Resampling.NEAREST)
    left, top = max(0, (width - size) // 2), max(0, (height - size) // 2)
    box = (left, top, min(width, left + size), min(height, top + size))
    crops = [p.crop(box).resize((3 * (box[2] - box[0]), 3 * (box[3] - box[1])), Image.Resampling.NEAREST)
             for p in panels]
    strip = Image.new("RGB", (sum(c.width for c in crops) + 6 * (len(crops) - 1), crops[0].height), "white")
    x = 0
    for crop in crops:
        strip.paste(crop, (x, 0))
        x += crop.width + 6
    path = image_dir / f"{name}_crops.png"
    strip.save(path)
    return path


def _num(value: float | None, digits: int, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the evaluation described by ``cfg``; return the summary."""
    scale = parse_scale(cfg.scale)
    kernel = kernel_name(cfg.kernel)
    if kernel not in KERNELS:
        raise ZSSRError(f"kernel must be one of {', '.join(KERNELS)}, got {cfg.kernel}")
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ZSSRError(f"unknown method(s) {', '.join(unknown)} (choose from {', '.join(METHODS)})")
    if "zssr" in cfg.methods:
        check_settings(cfg)  # before any image, not when the first one reaches ZSSR
    ds = cfg.dataset
    refs = list_images(ds.name, ds.get("root"), ds.get("samples"), ds.get("names"), ds.get("count"),
                       ds.get("shard"), seed=int(cfg.seed), download=bool(ds.get("download", False)))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = MetricsFile(out_dir / "metrics.csv")
    methods = list(cfg.methods)
    has_gt = bool(ds.get("has_gt", True))
    if has_gt and scale[0] != scale[1]:
        raise ZSSRError(f"benchmark degradations need one integer scale, got {list(scale)}")
    todo = [r for r in refs if not table.done(r.name, methods)]
    if len(todo) < len(refs):
        log.info("resuming: %d of %d images already done", len(refs) - len(todo), len(refs))
    title = f"{ds.name}-{cfg.degradation.name}-kernel_{kernel}-x{cfg.scale}"
    dashboard = Dashboard(cfg, out_dir, title)
    for index, ref in enumerate(tqdm(todo, desc=title, unit="image", dynamic_ncols=True)):
        image = ref.load()
        deg = None
        if has_gt:
            deg = degrade(image.rgb, scale[0], cfg.degradation.name,
                          image_seed(int(cfg.seed), ds.name, ref.name, cfg.degradation.name, scale[0]))
        image_dir = out_dir / "images" / ref.name
        image_dir.mkdir(parents=True, exist_ok=True)
        rows = run_methods(cfg, ref, image, deg, image_dir, scale)
        table.add(rows)
        dashboard.log_image_rows(index, rows, side_by_side(image_dir, ref.name))
    summary = summarize(cfg, table, scale)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_report(out_dir / "report.md", summary, table)
    dashboard.finish(summary, table.rows)
    return summary
