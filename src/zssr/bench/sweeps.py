"""Plots of a sweep (``python -m zssr.aggregate``): PSNR and SSIM against each numeric setting swept between jobs, as
PNG files and as W&B line panels."""

from __future__ import annotations

from pathlib import Path

KEY = ("dataset", "degradation", "kernel", "estimator", "scale", "method")  # the aggregate table's label columns


def sweep_series(entries: list[dict[str, object]], param: str, others: list[str]) -> dict[str, list[tuple]]:
    """For a numeric swept ``param``: label -> [(value, PSNR, SSIM)] in order of the value, one series per
    combination of the other fields that vary (the method, another swept setting, ...)."""
    fields = [k for k in (*KEY, *others) if k != param and len({str(e[k]) for e in entries}) > 1] or ["method"]
    series: dict[str, list[tuple]] = {}
    for e in entries:
        if e["psnr"] is None:
            continue
        label = ", ".join(f"{e[k]}" if k in KEY else f"{k}={e[k]}" for k in fields)
        series.setdefault(label, []).append((float(str(e[param])), e["psnr"], e["ssim"]))
    return {label: sorted(points) for label, points in series.items()}


def numeric(entries: list[dict[str, object]], param: str) -> bool:
    try:
        return all(float(str(e[param])) is not None for e in entries)
    except ValueError:
        return False


def sweep_plots(entries: list[dict[str, object]], swept: list[str], out: Path) -> dict[str, Path]:
    """``aggregate_<param>.png`` per numeric swept setting: PSNR and SSIM against it, one line per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    for param in (p for p in swept if numeric(entries, p)):
        series = sweep_series(entries, param, swept)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for label, points in series.items():
            xs, psnr, ssim = zip(*points, strict=True)
            axes[0].plot(xs, psnr, marker="o", label=label)
            axes[1].plot(xs, ssim, marker="o", label=label)
        for ax, metric in zip(axes, ("PSNR (dB)", "SSIM"), strict=True):
            ax.set_xlabel(param)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"mean over the images, against {param}")
        fig.tight_layout()
        plots[param] = out / f"aggregate_{param.replace('/', '_')}.png"
        fig.savefig(plots[param], dpi=100)
        plt.close(fig)
    return plots


def log_to_wandb(entries: list[dict[str, object]], swept: list[str], plots: dict[str, Path], out: Path) -> None:
    """One W&B run (job type ``aggregate``, grouped by the folder's name): the table, and per swept setting a line
    panel of PSNR against it plus the picture."""
    import wandb

    run = wandb.init(project="zssr", group=out.name, job_type="aggregate", dir=str(out), reinit="create_new")
    try:
        columns = list(entries[0])
        run.log({"aggregate": wandb.Table(columns=columns, data=[[e[c] for c in columns] for e in entries])})
        for param, path in plots.items():
            series = sweep_series(entries, param, swept)
            xs = [[point[0] for point in points] for points in series.values()]
            ys = [[point[1] for point in points] for points in series.values()]
            run.log({f"psnr_vs_{param}": wandb.plot.line_series(xs=xs, ys=ys, keys=list(series),
                                                                 title=f"PSNR against {param}", xname=param),
                f"plot_{param}": wandb.Image(str(path))})
    finally:
        run.finish()
