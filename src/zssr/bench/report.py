"""What an evaluate run shows a reader: ``report.md`` with the paper's numbers beside ours, the per-image gain plot,
and side-by-side crops. Everything shown comes in as arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from zssr.bench.reference import paper_value


def write_report(path: Path, summary: dict[str, Any], rows: list[dict[str, str]], crops: list[Path],
                 kernels: dict[str, Path] | None = None) -> Path | None:
    """``report.md``: the means with the paper's numbers and deltas, per-image gains over bicubic (a plot, returned
    when drawn), the side-by-side ``crops`` (links to the first three) and, with estimated kernels, each image's
    estimate beside its true kernel (``kernels``: image -> picture)."""
    scale = summary["scale"]
    scale_text = f"{scale:g}" if isinstance(scale, float) else "x".join(map(str, scale))
    kernel = summary["kernel"] + (f" ({summary['estimator']})" if summary.get("estimator") else "")
    lines = [f"# ZSSR evaluation: {summary['dataset']}, {summary['degradation']} degradation, x{scale_text}, "
             f"kernel given to ZSSR: {kernel}", "", f"{summary['n_images']} images.", "",
             *_means_table(summary)]
    gains = _gains(rows)
    plot = None
    if gains:
        plot = gain_plot(path.parent / "psnr_gain.png", gains,
                         f"{summary['dataset']}, {summary['degradation']}, x{scale_text}, kernel {kernel}")
        lines += ["", "## PSNR gain of ZSSR over bicubic per image", "", f"![PSNR gain per image]({plot.name})", "",
                  "| image | gain (dB) |", "|---|---|"]
        lines += [f"| {img} | {g:+.2f} |" for img, g in gains]
    if crops:
        lines += ["", "## Centre crops: LR, bicubic, ZSSR, HR", ""]
        lines += [f"![{c.stem}]({c.relative_to(path.parent).as_posix()})" for c in crops[:3]]
    if kernels:
        lines += ["", "## Estimated kernels beside the true ones", "", "| image | kernel error | rejected | picture |",
                  "|---|---|---|---|"]
        errors = {r["image"]: r.get("kernel_error") for r in rows if r.get("method") == "zssr"}
        for image, picture in sorted(kernels.items()):
            link = picture.relative_to(path.parent).as_posix()
            rejected = "yes (bicubic used)" if picture.stem.endswith("_rejected") else ""
            lines.append(f"| {image} | {errors.get(image) or ''} | {rejected} | ![{image}]({link}) |")
    path.write_text("\n".join(lines) + "\n")
    return plot


def _means_table(summary: dict[str, Any]) -> list[str]:
    """One row per method: our means beside the paper's, and a note on estimated kernels."""
    scale = summary["scale"]
    lines = ["| method | PSNR | SSIM | paper PSNR | paper SSIM | delta PSNR | seconds | iterations |",
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
    return lines + (["", *notes] if notes else [])


def _gains(rows: list[dict[str, str]]) -> list[tuple[str, float]]:
    """(image, ZSSR's PSNR minus bicubic's), largest first."""
    by_image: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.get("psnr"):
            by_image.setdefault(r["image"], {})[r["method"]] = float(r["psnr"])
    gains = [(img, v["zssr"] - v["bicubic"]) for img, v in by_image.items() if {"zssr", "bicubic"} <= set(v)]
    return sorted(gains, key=lambda x: -x[1])


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


def side_by_side(path: Path, files: list[Path], size: int = 96) -> Path | None:
    """One strip of the same centre crop of LR (pixel-repeated), bicubic, ZSSR and HR (``files`` in that order) at
    ``path``; None when one of the last three is missing."""
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
    strip.save(path)
    return path


def _num(value: float | None, digits: int, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
