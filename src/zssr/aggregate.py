"""Merge the results of many evaluate jobs (a multirun sweep dir, or shard dirs) into one table.

    python -m zssr.aggregate outputs/evaluate/multiruns/2026-11-26_10-00-00-123456 [more dirs] [--out merged]

Finds every ``metrics.csv`` below the given folders, merges their rows (a row repeated by overlapping shards counts
once), and prints a markdown table of mean PSNR/SSIM per (dataset, degradation, kernel, estimator, scale, method)
with the paper's numbers beside; writes ``aggregate.csv``, ``aggregate.json`` and ``aggregate.md`` to ``--out``
(default: the first dir).

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

from zssr.reference import paper_value
from zssr.results import write_json
from zssr.table import OPTIONAL, with_optional

KEY = ("dataset", "degradation", "kernel", "estimator", "scale", "method")


def collect(dirs: list[Path]) -> list[dict[str, str]]:
    rows: dict[tuple, dict[str, str]] = {}
    for d in dirs:
        for path in sorted(d.rglob("metrics.csv")):
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                if not set((*KEY, "image")) - set(OPTIONAL) <= set(reader.fieldnames or ()):
                    continue  # a training-curve log (per-image csv/, kernelgan/), not an evaluate table
                for row in map(with_optional, reader):
                    rows[tuple(row[k] for k in (*KEY, "image"))] = row
    return list(rows.values())


def table(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in KEY), []).append(row)
    out = []
    for key in sorted(groups):
        sel = groups[key]
        entry: dict[str, object] = dict(zip(KEY, key, strict=True))
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


def markdown(entries: list[dict[str, object]]) -> str:
    head = ("| dataset | degradation | kernel | estimator | scale | method | images | PSNR | SSIM | paper | delta | "
            "seconds | kernel error |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for e in entries:
        psnr, paper = e["psnr"], e["paper_psnr"]
        delta = f"{psnr - paper:+.2f}" if psnr is not None and paper is not None else ""
        lines.append(f"| {e['dataset']} | {e['degradation']} | {e['kernel']} | {e['estimator']} | {e['scale']} | "
                     f"{e['method']} | {e['n_images']} | {_f(psnr, 2)} | {_f(e['ssim'], 4)} | {_f(paper, 2)} | "
                     f"{delta} | {_f(e['seconds'], 1)} | {_f(e['kernel_error'], 3)} |")
    return "\n".join(lines) + "\n"


def per_image(rows: list[dict[str, str]], delta_to: int | None = None) -> tuple[list[str], dict[str, list], str]:
    """PSNR per image and result group: (column labels, image -> values, markdown). Columns are labelled by the
    :data:`KEY` fields that differ between groups; the last row is the mean over the images every column has."""
    groups = sorted({tuple(r[k] for k in KEY) for r in rows})
    varying = [i for i in range(len(KEY)) if len({g[i] for g in groups}) > 1] or [KEY.index("method")]
    labels = ["/".join(g[i] for i in varying if g[i]) or "-" for g in groups]
    psnr: dict[str, list] = {}
    for r in rows:
        if r.get("psnr"):
            psnr.setdefault(r["image"], [None] * len(groups))[groups.index(tuple(r[k] for k in KEY))] = float(r["psnr"])
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
    args = parser.parse_args(argv)
    missing = [d for d in args.dirs if not d.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    rows = collect(args.dirs)
    if not rows:
        print(f"error: no metrics.csv below {', '.join(map(str, args.dirs))}", file=sys.stderr)
        return 1
    entries = table(rows)
    text = markdown(entries)
    print(text, end="")
    out = args.out or args.dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "aggregate.csv", "w", newline="") as fh:
        columns = list(dict.fromkeys(k for row in rows for k in row))  # files from older versions lack columns
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    write_json(out / "aggregate.json", entries)
    (out / "aggregate.md").write_text(text)
    if args.per_image:
        try:
            labels, values, md = per_image(rows, args.delta_to)
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
