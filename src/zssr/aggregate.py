"""Merge the results of many evaluate jobs (a multirun sweep dir, or shard dirs) into one table.

    python -m zssr.aggregate outputs/evaluate/multiruns/2026-11-26_10-00-00-123456 [more dirs] [--out merged]

Finds every ``metrics.csv`` below the given folders, merges their rows (a row repeated by overlapping shards counts
once), and prints a markdown table of mean PSNR/SSIM per (dataset, degradation, kernel, estimator, scale, method)
with the paper's numbers beside; writes ``aggregate.csv``, ``aggregate.json`` and ``aggregate.md`` to ``--out``
(default: the first dir).

A sweep over a setting that is not one of those columns (``degradation.steps.noise.sigma=0.01,0.03,0.05``) is read
from each job's ``.hydra/overrides.yaml``: the table gets a column per swept setting, and for each numeric one
``aggregate_<setting>.png`` plots PSNR and SSIM against it, one line per method (and per anything else that varies),
linked from ``aggregate.md``; ``--wandb`` also logs the table and the plots as a W&B run (``WANDB_MODE=offline``
works).

``--per-image`` also prints PSNR per image, one column per result group (labelled by what differs between groups), with
the mean over the images every group has; ``--delta-to N`` shows each column's difference to column N per image and
its worst one. Written to ``per_image.md`` / ``per_image.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from zssr.bench.reference import paper_value
from zssr.bench.rundir import IGNORED
from zssr.bench.sweeps import KEY, log_to_wandb, sweep_plots
from zssr.bench.table import OPTIONAL, with_optional
from zssr.run.results import write_json

LABELLED = ("dataset", "degradation", "kernel", "estimator", "scale", "methods")  # overrides that are KEY columns


def job_overrides(metrics: Path) -> dict[str, str]:
    """The overrides of the job that wrote ``metrics`` (its ``.hydra/overrides.yaml``), less those already a column
    of the table and those that only say where or how it ran (shards, threads, paths)."""
    path = metrics.parent / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    out = {}
    for item in OmegaConf.to_container(OmegaConf.load(path)) or []:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key.split("/")[0] not in LABELLED and not key.startswith(IGNORED):
            out[key] = value
    return out


def collect(dirs: list[Path]) -> tuple[list[dict[str, str]], list[str]]:
    """Every evaluate row below ``dirs`` and the settings swept between their jobs (each also a column of the
    rows)."""
    jobs = []
    for d in dirs:
        for path in sorted(d.rglob("metrics.csv")):
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                if not set((*KEY, "image")) - set(OPTIONAL) <= set(reader.fieldnames or ()):
                    continue  # a training-curve log (per-image csv/, kernelgan/), not an evaluate table
                jobs.append((job_overrides(path), list(map(with_optional, reader))))
    keys = list(dict.fromkeys(k for overrides, _ in jobs for k in overrides))
    swept = [k for k in keys if len({overrides.get(k, "") for overrides, _ in jobs}) > 1]
    rows: dict[tuple, dict[str, str]] = {}
    for overrides, job_rows in jobs:
        for row in job_rows:
            row.update({k: overrides.get(k, "") for k in swept})
            rows[tuple(row[k] for k in (*KEY, *swept, "image"))] = row
    return list(rows.values()), swept


def table(rows: list[dict[str, str]], swept: list[str] = ()) -> list[dict[str, object]]:
    key_fields = (*KEY, *swept)
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in key_fields), []).append(row)
    out = []
    for key in sorted(groups, key=lambda g: tuple(_sortable(v) for v in g)):
        sel = groups[key]
        entry: dict[str, object] = dict(zip(key_fields, key, strict=True))
        entry["n_images"] = len(sel)
        for metric in ("psnr", "ssim", "seconds", "iterations", "kernel_error", "estimation_seconds"):
            values = [float(r[metric]) for r in sel if r.get(metric)]
            entry[metric] = float(np.mean(values)) if values else None
        scale = float(entry["scale"]) if str(entry["scale"]).replace(".", "", 1).isdigit() else 0
        paper = paper_value(str(entry["dataset"]), str(entry["degradation"]), scale, str(entry["method"]),
                            str(entry["kernel"]))
        entry["paper_psnr"], entry["paper_ssim"] = paper if paper else (None, None)
        out.append(entry)
    return out


def _sortable(value: str) -> tuple:
    """Numbers in numeric order (a swept 0.01, 0.03, 0.1), before text."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def markdown(entries: list[dict[str, object]], swept: list[str] = ()) -> str:
    params = "".join(f"{k} | " for k in swept)
    head = (f"| dataset | degradation | kernel | estimator | scale | method | {params}images | PSNR | SSIM | paper | "
            "delta | seconds | kernel error |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for e in entries:
        psnr, paper = e["psnr"], e["paper_psnr"]
        delta = f"{psnr - paper:+.2f}" if psnr is not None and paper is not None else ""
        lines.append(f"| {e['dataset']} | {e['degradation']} | {e['kernel']} | {e['estimator']} | {e['scale']} | "
                     f"{e['method']} | {''.join(f'{e[k]} | ' for k in swept)}{e['n_images']} | {_f(psnr, 2)} | "
                     f"{_f(e['ssim'], 4)} | {_f(paper, 2)} | {delta} | {_f(e['seconds'], 1)} | "
                     f"{_f(e['kernel_error'], 3)} |")
    return "\n".join(lines) + "\n"


def per_image(rows: list[dict[str, str]], delta_to: int | None = None,
              swept: list[str] = ()) -> tuple[list[str], dict[str, list], str]:
    """PSNR per image and result group: (column labels, image -> values, markdown). Columns are labelled by the
    :data:`KEY` fields and ``swept`` settings that differ between groups; the last row is the mean over the images
    every column has."""
    key_fields = (*KEY, *swept)
    groups = sorted({tuple(r[k] for k in key_fields) for r in rows})
    varying = [i for i in range(len(key_fields)) if len({g[i] for g in groups}) > 1] or [KEY.index("method")]
    labels = ["/".join(g[i] if i < len(KEY) else f"{key_fields[i]}={g[i]}" for i in varying if g[i]) or "-"
              for g in groups]
    psnr: dict[str, list] = {}
    for r in rows:
        if r.get("psnr"):
            group = groups.index(tuple(r[k] for k in key_fields))
            psnr.setdefault(r["image"], [None] * len(groups))[group] = float(r["psnr"])
    common = [img for img, v in psnr.items() if None not in v]
    means = [float(np.mean([psnr[i][c] for i in common])) if common else None for c in range(len(groups))]
    if delta_to is not None and not 1 <= delta_to <= len(groups):
        raise ValueError(f"--delta-to must be a column number from 1 to {len(groups)}")
    base = delta_to - 1 if delta_to else None

    def cells(values: list) -> list[str]:
        out = []
        for c, v in enumerate(values):
            text = _f(v, 2)
            if base is not None and c != base and v is not None and values[base] is not None:
                text += f" ({v - values[base]:+.2f})"
            out.append(text)
        return out

    lines = ["| image | " + " | ".join(f"{c + 1}: {label}" for c, label in enumerate(labels)) + " |",
             "|---|" + "---|" * len(groups)]
    lines += [f"| {img} | " + " | ".join(cells(psnr[img])) + " |" for img in sorted(psnr)]
    lines.append(f"| mean of {len(common)} | " + " | ".join(cells(means)) + " |")
    if base is not None and common:
        worst = [min(psnr[i][c] - psnr[i][base] for i in common) for c in range(len(groups))]
        lines.append("| worst delta | " + " | ".join("" if c == base else f"{w:+.2f}" for c, w in enumerate(worst))
                     + " |")
    return labels, {**psnr, "mean": means}, "\n".join(lines) + "\n"


def _f(value: object, digits: int) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--per-image", action="store_true", help="also a table of PSNR per image and result group")
    parser.add_argument("--delta-to", type=int, default=None, help="with --per-image: differences to this column")
    parser.add_argument("--wandb", action="store_true", help="also log the table and sweep plots as a W&B run")
    args = parser.parse_args(argv)
    missing = [d for d in args.dirs if not d.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    rows, swept = collect(args.dirs)
    if not rows:
        print(f"error: no metrics.csv below {', '.join(map(str, args.dirs))}", file=sys.stderr)
        return 1
    entries = table(rows, swept)
    out = args.out or args.dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    plots = sweep_plots(entries, swept, out)
    text = markdown(entries, swept) + "".join(f"\n![PSNR and SSIM against {p}]({f.name})\n" for p, f in plots.items())
    print(text, end="")
    with open(out / "aggregate.csv", "w", newline="") as fh:
        columns = list(dict.fromkeys(k for row in rows for k in row))  # files from older versions lack columns
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    write_json(out / "aggregate.json", entries)
    (out / "aggregate.md").write_text(text)
    if args.wandb:
        log_to_wandb(entries, swept, plots, out)
    if args.per_image:
        try:
            labels, values, md = per_image(rows, args.delta_to, swept)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("", md, sep="\n", end="")
        (out / "per_image.md").write_text(md)
        with open(out / "per_image.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["image", *labels])
            writer.writerows([img, *("" if v is None else f"{v:.6f}" for v in vals)] for img, vals in values.items())
    return 0


if __name__ == "__main__":
    sys.exit(main())
