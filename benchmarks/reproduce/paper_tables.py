"""The paper's Tables 1-3 on the full datasets: collect per-image rows from evaluate run dirs, and write the docs'
tables from the collected rows.

    python benchmarks/reproduce/paper_tables.py collect outputs/paper_tables/*  # after (or while) the runs go
    python benchmarks/reproduce/paper_tables.py write                           # docs/paper_tables.md from the CSVs
    python benchmarks/reproduce/paper_tables.py todo bsd100 bicubic bicubic 3   # images of a cell not collected yet

The runs themselves are plain ``evaluate.py`` commands (``experiment=paper_table1`` etc.; docs/paper_tables.md lists
them). ``collect`` merges each run dir's ``metrics.csv`` into ``benchmarks/results/paper_tables/<cell>.csv`` (one file
per dataset, degradation, kernel and scale; a row already there is kept), adding the CPU class and commit that made
each new row and whether the image is in BSD100's 20-image subset (the images the project's other figures report,
kept apart here as untouched). ``write`` needs no images: the table is computed from the CSVs alone, and
``tests/test_docs.py`` checks that the committed page matches them.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from zssr.api import data_dir  # noqa: E402
from zssr.bench.reference import paper_value  # noqa: E402
from zssr.bench.table import MetricsFile  # noqa: E402
from zssr.errors import ZSSRError  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "paper_tables"
PAGE = ROOT / "docs" / "paper_tables.md"
SIZES = {"set5": 5, "set14": 14, "bsd100": 100}
COLUMNS = ["dataset", "degradation", "kernel", "scale", "image", "method", "psnr", "ssim", "seconds", "iterations",
           "subset", "cpu", "commit"]
TABLES = [("Table 1: ideal bicubic downscaling", "bicubic"), ("Table 2: random anisotropic Gaussian kernels",
          "random_kernel"), ("Table 3: unknown degradation (noise, speckle or JPEG)", "unknown")]


def cpu_class() -> str:
    from zssr.ops.compute import cpu_flags

    flags = cpu_flags()
    if flags["avx512_bf16"] or flags["amx"]:
        return "avx512-bf16"
    return "avx512" if flags["avx512"] else "avx2" if flags["avx2"] else "other"


def bsd100_subset() -> set[str]:
    from zssr.bench.datasets import reported_split

    return {r.name for r in reported_split(str(data_dir() / "bsd100" / "HR"), held_out=False)}


def cell_name(row: dict[str, str]) -> str:
    return f"{row['dataset']}-{row['degradation']}-{row['kernel']}-x{row['scale']}"


def read_cell(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def collect(run_dirs: list[Path]) -> int:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    cpu, subset = cpu_class(), None
    new: dict[str, list[dict[str, str]]] = defaultdict(list)
    for run_dir in run_dirs:
        metrics = run_dir / "metrics.csv"
        if not metrics.is_file():
            print(f"skipping {run_dir}: no metrics.csv yet", file=sys.stderr)
            continue
        for row in MetricsFile(metrics).rows:  # checked: a damaged file is one error line
            if row["dataset"] == "bsd100" and subset is None:
                subset = bsd100_subset()
            row = {**row, "subset": int(row["dataset"] == "bsd100" and row["image"] in (subset or ())),
                   "cpu": cpu, "commit": commit}
            new[cell_name(row)].append({k: row[k] for k in COLUMNS})
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, rows in sorted(new.items()):
        path = RESULTS / f"{name}.csv"
        kept = read_cell(path) if path.is_file() else []
        seen = {(r["image"], r["method"]) for r in kept}
        added = [r for r in rows if (r["image"], r["method"]) not in seen]
        merged = sorted(kept + added, key=lambda r: (r["method"], r["image"]))
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(merged)
        print(f"{path.relative_to(ROOT)}: {len(added)} new row(s), {len(merged)} in all")
    return 0


def _cell(rows: list[dict[str, str]], paper: tuple[float, float] | None) -> list[str]:
    psnr, ssim = mean(float(r["psnr"]) for r in rows), mean(float(r["ssim"]) for r in rows)
    ref = f"{paper[0]:.2f} / {paper[1]:.4f}" if paper else ""
    delta = f"{psnr - paper[0]:+.2f}" if paper else ""
    return [f"{psnr:.2f} / {ssim:.4f}", ref, delta]


def table(rows: list[dict[str, str]], degradation: str) -> list[str]:
    lines = ["| dataset | scale | kernel | images | bicubic | paper's bicubic | ZSSR | gain over bicubic | "
             "paper's ZSSR | delta | s / image | core-hours | CPU |", "|" + "---|" * 13]
    cells: dict[tuple, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        if r["degradation"] == degradation:
            cells[(r["dataset"], r["scale"], r["kernel"])].append(r)
    order = list(SIZES)
    for (dataset, scale, kernel), group in sorted(cells.items(), key=lambda c: (order.index(c[0][0]), c[0][1:])):
        parts = [(f"{dataset}", group)]
        if dataset == "bsd100":
            parts.append(("bsd100, the 20-image subset", [r for r in group if r["subset"] == "1"]))
        for label, part in parts:
            zssr = [r for r in part if r["method"] == "zssr"]
            bicubic = [r for r in part if r["method"] == "bicubic"]
            if not zssr:
                continue
            total = 20 if "subset" in label else SIZES.get(dataset, 0)
            # the paper's means are over whole sets: beside a part of one they would mislead
            paper = [paper_value(dataset, degradation, float(scale), m, kernel) if len(zssr) == total else None
                     for m in ("bicubic", "zssr")]
            gain = mean(float(z["psnr"]) - float(b["psnr"]) for z, b in zip(zssr, bicubic, strict=True)) \
                if [r["image"] for r in zssr] == [r["image"] for r in bicubic] else None
            seconds = [float(r["seconds"]) for r in zssr]
            cpus = ", ".join(sorted({r["cpu"] for r in zssr}))
            ours, ref, delta = _cell(zssr, paper[1])
            lines.append("| " + " | ".join([label, f"x{scale}", kernel, f"{len(zssr)} / {total}",
                                              *(_cell(bicubic, paper[0])[:2] if bicubic else ["", ""]), ours,
                                              "" if gain is None else f"{gain:+.2f}", ref, delta,
                                              f"{mean(seconds):.0f}", f"{2 * sum(seconds) / 3600:.2f}", cpus]) + " |")
    return lines


def write(page: Path, results: Path = RESULTS) -> int:
    rows = [r for path in sorted(results.glob("*.csv")) for r in read_cell(path)]
    out = [
        "# The paper's Tables 1-3, run here",
        "",
        "Generated by `python benchmarks/reproduce/paper_tables.py write` from the per-image rows in",
        "`benchmarks/results/paper_tables/` (do not edit by hand). PSNR / SSIM on Y, shave = scale, mean over the",
        "images done so far (`images`: done / in the set); the paper's numbers stand beside whole sets only.",
        "Paper: Shocher, Cohen & Irani, CVPR 2018, Tables 1-3.",
        "Seconds are wall time per image with both cores of a 2-core machine, core-hours are 2 x the summed",
        "seconds; the CPU column is the class of the machine that ran the rows (docs/lab/results.md).",
        "The commands are in [recipes](recipes.md#the-papers-tables).",
    ]
    for title, degradation in TABLES:
        out += ["", f"## {title}", "", *table(rows, degradation)]
    page.write_text("\n".join(out) + "\n")
    print(f"wrote {page} from {len(rows)} rows")
    return 0


def todo(dataset: str, degradation: str, kernel: str, scale: str) -> int:
    """Print the images of one cell that have no collected ZSSR row, as a ``dataset.names=[...]`` override, so a
    run on another machine (or in a later session) does only what is missing."""
    from zssr.bench.datasets import list_images

    root = data_dir() / dataset / "HR"
    path = RESULTS / f"{dataset}-{degradation}-{kernel}-x{scale}.csv"
    done = {r["image"] for r in read_cell(path) if r["method"] == "zssr"} if path.is_file() else set()
    missing = [r.name for r in list_images(dataset, root=str(root)) if r.name not in done]
    print(f"dataset.names=[{','.join(missing)}]" if missing else "# every image is done", flush=True)
    print(f"{len(missing)} of {len(missing) + len(done)} image(s) to run", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("collect", help="merge run dirs' metrics.csv into the committed CSVs").add_argument(
        "run_dirs", nargs="+", type=Path)
    writer = sub.add_parser("write", help="write docs/paper_tables.md from the committed CSVs")
    writer.add_argument("--page", type=Path, default=PAGE)
    writer.add_argument("--results", type=Path, default=RESULTS, help="the folder of per-cell CSVs")
    cell = sub.add_parser("todo", help="the images of a cell not collected yet")
    for name in ("dataset", "degradation", "kernel", "scale"):
        cell.add_argument(name)
    args = parser.parse_args()
    try:
        if args.command == "todo":
            return todo(args.dataset, args.degradation, args.kernel, args.scale)
        return collect(args.run_dirs) if args.command == "collect" else write(args.page, args.results)
    except ZSSRError as exc:  # a damaged metrics.csv, a missing dataset folder
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
