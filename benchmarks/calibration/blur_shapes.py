"""How well a straight motion path and a defocus disk explain each image's spectrum against the Gaussian fit, and what
``estimator.blur_ratio`` would take: no training.

    python benchmarks/calibration/blur_shapes.py [--degradation motion_defocus] [--scale 2] [--images 80]
        [--ratios 0.8,0.85,0.9]

For each held-out BSD100 image (outside the reported subset; ``--subset`` reads the subset, never to tune it), degraded
as ``evaluate.py dataset=bsd100`` does, ``zssr.estimators.spectral.blur_shapes`` gives the best path and disk and
their mean squared residual over the Gaussian fit's (the ratio). The true kernels are grouped as ``motion`` (second
moments more than 1.3x apart) or ``disk`` for ``motion_defocus``, by the degradation's name otherwise. Prints each
group's ratios, how many images each ``--ratios`` threshold takes with the kernel error of the Gaussian fit
(``anisotropic_kernel`` with the default ``shrink``) and of the shape taken, and writes
``benchmarks/results/blur_shapes_<degradation>_x<scale>[_subset].json``. Needs the benchmark images
(``ZSSR_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bsd100_kernels import add_image_options, degraded_images, numbers

from zssr.api import compose_config
from zssr.estimators.spectral import anisotropic_kernel, blur_shapes
from zssr.ops.kernels import kernel_covariance, kernel_error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_image_options(parser)
    parser.set_defaults(degradation="motion_defocus")
    parser.add_argument("--ratios", default="0.8,0.85,0.9", help="estimator.blur_ratio values to count")
    args = parser.parse_args()
    ratios = numbers(args.ratios, "--ratios")
    torch.set_num_threads(1)
    cfg = compose_config(["kernel=estimated"]).estimator
    scale = (float(args.scale), float(args.scale))
    rows = []
    for name, _, deg in degraded_images(args):
        started = time.perf_counter()
        shapes = blur_shapes(deg.lr, scale, float(cfg.slope_prior), float(cfg.slope_prior_weight))
        seconds = time.perf_counter() - started
        fitted = anisotropic_kernel(deg.lr, scale, float(cfg.shrink), float(cfg.slope_prior),
                                    float(cfg.slope_prior_weight))
        if not shapes or fitted is None:
            continue
        variances = np.linalg.eigvalsh(kernel_covariance(deg.kernel))
        group = (("motion" if variances[1] > 1.3 * variances[0] else "disk")
                 if args.degradation == "motion_defocus" else args.degradation)
        best = min(shapes, key=lambda b: b.ratio)
        rows.append({"image": name, "group": group, "seconds": round(seconds, 3),
                     **{f"{b.kind}_ratio": round(b.ratio, 4) for b in shapes},
                     "best": best.kind, "best_size": round(best.size, 3), "best_ratio": round(best.ratio, 4),
                     "gaussian_error": round(kernel_error(fitted[0], deg.kernel), 4),
                     "shape_error": round(kernel_error(best.kernel(scale), deg.kernel), 4)})
    if not rows:
        print("error: no image gave a fit", file=sys.stderr)
        return 1
    print(f"{args.degradation} x{args.scale}, {len(rows)} images ({'subset' if args.subset else 'held out'}); "
          f"blur_shapes took {np.mean([r['seconds'] for r in rows]):.2f} s per image")
    print("| group | images | motion ratio: min / q10 / median | defocus ratio: min / q10 / median | "
          + " | ".join(f"<= {t:g}: taken (Gaussian -> shape error)" for t in ratios) + " |")
    print("|---|---|---|---|" + "---|" * len(ratios))
    summary = {}
    for group in sorted({r["group"] for r in rows}):
        mine = [r for r in rows if r["group"] == group]
        cells, summary[group] = [], {"images": len(mine)}
        for kind in ("motion", "defocus"):
            v = np.array([r[f"{kind}_ratio"] for r in mine])
            cells.append(f"{v.min():.3f} / {np.quantile(v, 0.1):.3f} / {np.median(v):.3f}")
            summary[group][kind] = {"min": float(v.min()), "q10": float(np.quantile(v, 0.1)),
                                    "median": float(np.median(v))}
        for t in ratios:
            taken = [r for r in mine if r["best_ratio"] <= t]
            errors = (f" ({np.mean([r['gaussian_error'] for r in taken]):.3f} -> "
                      f"{np.mean([r['shape_error'] for r in taken]):.3f})") if taken else ""
            cells.append(f"{len(taken)}{errors}")
            summary[group][f"taken_at_{t:g}"] = [r["image"] for r in taken]
        print(f"| {group} | {len(mine)} | " + " | ".join(cells) + " |")
    out = Path(__file__).resolve().parents[1] / "results" / (f"blur_shapes_{args.degradation}_x{args.scale}"
                                               f"{'_subset' if args.subset else ''}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"degradation": args.degradation, "scale": args.scale, "subset": args.subset,
                               "summary": summary, "images": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
