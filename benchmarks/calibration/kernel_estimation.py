"""Accuracy and time of kernel estimation (``kernel=estimated``) on BSD100 images with the paper's random kernels.

    python benchmarks/calibration/kernel_estimation.py --images 8 [--steps 3000] [--keep 40] [--threads 1]
    python benchmarks/calibration/kernel_estimation.py --held-out --images 12 --estimator kernelgan_fkp
        [estimator.module.lr=2e-3]

``--held-out`` takes images outside the reported 20-image subset (``dataset.count=20``), the ones to tune on; by
default the images are the seeded subset ``dataset.count=N`` picks (seed 1234). ``--degradation motion_defocus``
scores against motion and defocus kernels instead of the paper's Gaussians; ``--scale 4 --degradation
kernelgan_kernel`` against KernelGAN's x4 kernels (the x4 estimate is derived from the x2 one, as ZSSR gets it).

Each image is degraded exactly as ``evaluate.py dataset=bsd100 degradation=random_kernel`` does (same seeds), its
kernel estimated from the LR image alone, and scored with :func:`zssr.ops.kernels.kernel_error` (relative L2 after
aligning centres) next to the error of assuming the bicubic kernel, and the error of the kernel ZSSR is then given
("used": bicubic where the estimate is rejected as too wide, ``estimator.sharpness_limit``). Prints a table and
writes JSON to ``benchmarks/results/kernel_estimation.json``. Needs the benchmark images (``ZSSR_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

from zssr.api import compose_config, data_dir
from zssr.bench.datasets import list_images, reported_split
from zssr.degradations import degrade, image_seed
from zssr.estimators import estimate_kernel
from zssr.ops.kernels import bicubic_kernel, kernel_error
from zssr.run.settings import for_factor

DATA = data_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="seeded random BSD100 subset of this many images")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=None, help="GAN iterations (default: the config's)")
    parser.add_argument("--keep", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--starts", type=int, default=None, help="GAN starts per image (default: the config's)")
    parser.add_argument("--estimator", default="kernelgan", help="estimator config (conf/estimator)")
    parser.add_argument("--degradation", default="random_kernel",
                        choices=["random_kernel", "kernelgan_kernel", "motion_defocus"])
    parser.add_argument("--scale", type=int, default=2, choices=[2, 4])
    parser.add_argument("--held-out", action="store_true", help="images outside the reported 20-image subset")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. estimator.module.lr=2e-3")
    args = parser.parse_args()
    if not (DATA / "bsd100" / "HR").is_dir():
        print(f"error: BSD100 not found under {DATA} (set ZSSR_DATA_DIR)", file=sys.stderr)
        return 1
    overrides = [f"estimator.{k}={v}" for k, v in (("max_steps", args.steps), ("keep", args.keep),
                                                    ("threads", args.threads),
                                                    ("starts", args.starts)) if v is not None]
    cfg = compose_config([f"estimator={args.estimator}", *overrides, *args.overrides], config_name="evaluate").estimator
    root = str(DATA / "bsd100" / "HR")
    if args.held_out:
        refs = reported_split(root, held_out=True)[: args.images]
    else:
        refs = list_images("bsd100", root=root, count=args.images, seed=args.seed)
    rows = []
    print(f"{'image':>8} {'estimated':>10} {'bicubic':>8} {'used':>6}{'':10s} {'seconds':>8}")
    for ref in refs:
        image = ref.load()
        scale = float(args.scale)
        seed = image_seed(args.seed, "bsd100", ref.name, args.degradation, scale)  # exactly as evaluate.py seeds it
        deg = degrade(image.rgb, args.scale, args.degradation, seed)
        est = estimate_kernel(deg.lr, (scale, scale), cfg, seed=args.seed)
        gan = est.kernel if est.kernel is not None else est.rejected  # also when rejected as too wide
        row = {"image": ref.name, "bicubic_error": kernel_error(bicubic_kernel(args.scale), deg.kernel),
               "estimated_error": kernel_error(gan, deg.kernel) if gan is not None else None,
               "native_sharpness": est.native_sharpness, "rejected": est.kernel is None,
               "seconds": est.seconds, "iterations": est.iterations, "fallback": est.fallback_reason,
               "seed": est.seed, "starts": [_start(c, deg.kernel) for c in est.candidates]}
        row["used_error"] = row["bicubic_error"] if row["rejected"] else row["estimated_error"]
        rows.append(row)
        print(f"{ref.name:>8} {row['estimated_error'] or float('nan'):10.3f} {row['bicubic_error']:8.3f} "
              f"{row['used_error']:6.3f}{' (bicubic)' if row['rejected'] else '':10s} {row['seconds']:8.1f}",
              flush=True)
    errors = [r["estimated_error"] for r in rows if r["estimated_error"] is not None]
    summary = {"images": len(rows), "mean_estimated_error": float(np.mean(errors)) if errors else None,
               "mean_bicubic_error": float(np.mean([r["bicubic_error"] for r in rows])),
               "mean_used_error": float(np.mean([r["used_error"] for r in rows])),
               "median_seconds": statistics.median(r["seconds"] for r in rows), "fallbacks": len(rows) - len(errors),
               "rejected": sum(r["rejected"] and r["estimated_error"] is not None for r in rows),
               "torch_threads": torch.get_num_threads(),
               "settings": {"max_steps": cfg.max_steps, "keep": cfg.keep,  # the limit that applied at this scale
                            "sharpness_limit": for_factor(cfg.sharpness_limit, (float(args.scale),) * 2)},
               "estimator": args.estimator, "degradation": args.degradation, "scale": args.scale,
               "held_out": args.held_out,
               "overrides": args.overrides}
    print(f"{'mean':>8} {summary['mean_estimated_error'] or float('nan'):10.3f} {summary['mean_bicubic_error']:8.3f} "
          f"{summary['mean_used_error']:6.3f}{'':10s} {summary['median_seconds']:8.1f} (median); "
          f"{summary['rejected']} rejected as too wide")
    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_estimation{args.tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


def _start(est, truth: np.ndarray) -> dict:
    """One start's estimate: its seed, error, native sharpness and x2 kernel (to compare ways of choosing offline)."""
    if est.kernel is None:
        return {"seed": est.seed, "error": None, "native_sharpness": None, "kernel_x2": None}
    return {"seed": est.seed, "error": kernel_error(est.kernel, truth), "native_sharpness": est.native_sharpness,
            "kernel_x2": np.round(est.kernel_x2, 6).tolist()}


if __name__ == "__main__":
    sys.exit(main())
