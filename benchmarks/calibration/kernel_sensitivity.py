"""How much ZSSR loses when its kernel is the right shape but the wrong size: the price of a kernel estimate's error.

    python benchmarks/calibration/kernel_sensitivity.py [--images 102061 103070 108070 12084 123074]
        [--factors 0.7,0.85,1,1.2]
        [overrides ...]

Each held-out BSD100 image (outside the reported subset) is degraded as ``evaluate.py dataset=bsd100
degradation=random_kernel`` does (same seeds; the kernels are Gaussians). ZSSR (``python train.py``, the given-kernel
plan an estimate that passed its checks also gets) then runs with the Gaussian whose covariance is the true kernel's
times each factor: 1 is the true kernel's size, 1.2 a kernel 20% too wide in variance. The default overrides are
``recipe=first_cut threads=1`` (the first-cut schedule measures the same as the 2018 one on the true kernel; see
docs/lab/results.md); anything after the options is passed on as further overrides. Prints PSNR per image and factor and
the mean loss against factor 1, and writes ``benchmarks/results/kernel_sensitivity<tag>.json``. Needs the benchmark
images (``ZSSR_DATA_DIR``); about a minute and a half per run on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from bsd100_kernels import bsd100_root, numbers
from PIL import Image

from zssr.api import compose_config
from zssr.bench.datasets import reported_split
from zssr.degradations import degrade, image_seed
from zssr.estimators.spectral import gaussian_of_axes
from zssr.ops.kernels import kernel_covariance
from zssr.run.pipeline import train


def scaled_gaussian(truth: np.ndarray, factor: float, scale: float) -> np.ndarray:
    """The Gaussian with ``factor`` times ``truth``'s covariance, centred as the project's kernels are."""
    return gaussian_of_axes(*np.linalg.eigh(factor * kernel_covariance(truth)), (scale, scale))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", nargs="+", default=["102061", "103070", "108070", "12084", "123074"])
    parser.add_argument("--factors", default="0.7,0.85,1,1.2", help="covariance factors, comma-separated")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    args, overrides = parser.parse_known_args()
    factors = numbers(args.factors, "--factors")
    refs = {r.name: r for r in reported_split(str(bsd100_root()), held_out=True)}
    unknown = [n for n in args.images if n not in refs]
    if unknown:
        print(f"error: not held-out BSD100 images: {', '.join(unknown)}", file=sys.stderr)
        return 1
    s, rows = 2, []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.images:
            hr = refs[name].load().rgb
            deg = degrade(hr, s, "random_kernel", image_seed(1234, "bsd100", name, "random_kernel", float(s)))
            hr = hr[..., : deg.lr.shape[-2] * s, : deg.lr.shape[-1] * s]
            lr_path, hr_path = Path(tmp) / f"{name}_lr.png", Path(tmp) / f"{name}_hr.png"
            for image, path in ((deg.lr, lr_path), (hr, hr_path)):  # both already 8-bit
                Image.fromarray((image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()).save(path)
            row = {"image": name}
            for factor in factors:
                kernel_path = Path(tmp) / f"{name}_x{factor:g}.npy"
                np.save(kernel_path, scaled_gaussian(deg.kernel, factor, float(s)))
                cfg = compose_config([f"input={lr_path}", f"gt={hr_path}", f"kernel={kernel_path}", f"scale={s}",
                                      "recipe=first_cut", "threads=1", *overrides],
                                     output_dir=Path(tmp) / f"{name}_{factor:g}")
                row[f"{factor:g}"] = float(train(cfg)["psnr"])
                print(f"{name} x{factor:g}: {row[f'{factor:g}']:.2f} dB", flush=True)
            rows.append(row)
    keys = [f"{f:g}" for f in factors]
    print("\n| image | " + " | ".join(f"x{k}" for k in keys) + " |\n|---|" + "---|" * len(keys))
    for row in rows:
        print(f"| {row['image']} | " + " | ".join(f"{row[k]:.2f}" for k in keys) + " |")
    summary = {}
    if "1" in keys:
        summary = {k: float(np.mean([r[k] - r["1"] for r in rows])) for k in keys}
        print("| mean change against x1 | " + " | ".join(f"{summary[k]:+.2f}" for k in keys) + " |")
    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_sensitivity{args.tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"factors": factors, "overrides": overrides, "rows": rows,
                               "mean_change": summary}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
