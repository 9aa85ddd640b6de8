"""Calibrating ``estimator.sharpness_limit``: how sharp are natural images once their kernel's blur is taken out?

    python benchmarks/calibration/kernel_guard.py [--images 80] [--seed 777] [--quantile 0.95] [--scale 2]

Takes BSD100 images *outside* the seeded 20-image subset that the results are reported on (``dataset.count=20``,
seed 1234), degrades each with its own random kernel of the paper's Table 2 (seeded by ``--seed``), and measures the
LR image's :func:`zssr.estimators.sharpness_ratio` over the *true* kernel's :func:`zssr.estimators.kernel_passband`:
the image's native sharpness. ``kernel=estimated`` rejects an estimate that leaves a native sharpness above the
limit, which is this distribution's ``--quantile``. Also prints how often the limit is passed with the true kernel
(a wrong rejection) when the same LR images carry white noise or JPEG compression, and how the plain ratio tracks the
kernel's size. Writes ``benchmarks/results/kernel_guard.json``. Needs the benchmark images (``ZSSR_DATA_DIR``); no
training, under a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from zssr.api import data_dir
from zssr.bench.datasets import reported_split
from zssr.degradations import add_noise, degrade, image_seed, jpeg
from zssr.estimators import kernel_passband, sharpness_ratio
from zssr.ops.kernels import kernel_covariance

DATA = data_dir()


def covariance_det(kernel: np.ndarray) -> float:
    """Determinant of the kernel's second-moment matrix about its centre of mass (the area it blurs over)."""
    return float(np.linalg.det(kernel_covariance(kernel)))


def variants(lr: torch.Tensor, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """The 8-bit LR image as saved, plus noisy and JPEG-compressed copies of it."""
    return {"clean": lr, "noise 0.01": add_noise(lr, "gaussian", 0.01, rng),
            "noise 0.03": add_noise(lr, "gaussian", 0.03, rng), "jpeg 75": jpeg(lr, 75), "jpeg 45": jpeg(lr, 45)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=80, help="held-out BSD100 images (at most 80)")
    parser.add_argument("--seed", type=int, default=777, help="seed of the random kernels")
    parser.add_argument("--quantile", type=float, default=0.95, help="the limit: this quantile of native sharpness")
    parser.add_argument("--scale", type=int, default=2, help="SR factor of the random kernels (the limit is set at 2)")
    args = parser.parse_args()
    root = DATA / "bsd100" / "HR"
    if not root.is_dir():
        print(f"error: BSD100 not found under {DATA} (set ZSSR_DATA_DIR)", file=sys.stderr)
        return 1
    refs = reported_split(str(root), held_out=True)[: args.images]
    rng = np.random.default_rng(args.seed)
    rows = []
    for ref in refs:
        seed = image_seed(args.seed, "bsd100", ref.name, "random_kernel", float(args.scale))
        deg = degrade(ref.load().rgb, args.scale, "random_kernel", seed)
        passband = kernel_passband(deg.kernel, (float(args.scale),) * 2)
        ratios = {name: sharpness_ratio(img) for name, img in variants(deg.lr, rng).items()}
        rows.append({"image": ref.name, "kernel_det": covariance_det(deg.kernel), "passband": passband,
                     "ratios": ratios, "native": {name: r / passband for name, r in ratios.items()}})
    native = np.array([r["native"]["clean"] for r in rows])
    limit = float(np.quantile(native, args.quantile))
    corr = float(np.corrcoef(np.log([max(r["ratios"]["clean"], 1e-9) for r in rows]),
                             np.log([r["kernel_det"] for r in rows]))[0, 1])
    print(f"x{args.scale}, {len(rows)} held-out images; plain ratio against kernel size "
          f"(log, covariance determinant): r = {corr:.3f}")
    print(f"native sharpness: median {np.median(native):.3f}, quantile {args.quantile:g} = {limit:.3f} "
          f"(the limit), max {native.max():.3f}\n")
    print(f"{'LR image':12s} {'median native':>14s} {'above the limit':>16s}")
    table = {}
    for name in rows[0]["native"]:
        n = np.array([row["native"][name] for row in rows])
        table[name] = {"median_native": float(np.median(n)), "above_limit": float((n > limit).mean())}
        print(f"{name:12s} {table[name]['median_native']:14.3f} {table[name]['above_limit']:16.2f}")
    suffix = "" if args.scale == 2 else f"_x{args.scale}"
    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_guard{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"images": len(rows), "seed": args.seed, "scale": args.scale, "quantile": args.quantile,
                               "limit": limit, "correlation_ratio_kernel_size": corr, "variants": table, "rows": rows},
                              indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
