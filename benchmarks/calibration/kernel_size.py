"""How far the spectral fit's kernel size is from the true kernel's, and what that predicts ZSSR loses: no training.

    python benchmarks/calibration/kernel_size.py [--scale 2] [--degradation random_kernel] [--images 80]
        [--weights 0,3] [--priors 2] [--shrinks 0.8,0.85,0.9,0.95,1]

For each held-out BSD100 image (outside the reported subset; ``--subset`` scores the subset instead, to read a
result there, never to tune), degraded as ``evaluate.py dataset=bsd100`` does, the
kernel of ``estimator=spectral`` (``zssr.estimators.spectral.anisotropic_kernel``) is made for every slope prior
(``estimator.slope_prior`` x ``estimator.slope_prior_weight``, weight 0: none) and ``shrink``. Its size error is the
log of the ratio of the traces of its and the true kernel's second moments; its shape error the relative Frobenius
error of the covariance. The predicted loss turns the size error ``x`` into dB with the curve
``1.4 (1 - exp(-16 x^2))``, times 1.28 where the kernel is too wide and 0.88 where too narrow: the fit of ZSSR's
losses on 5 held-out images given the true covariance times 0.7, 0.85 and 1.2
(``benchmarks/calibration/kernel_sensitivity.py``,
docs/lab/kernel_estimation.md). Prints a table per setting and writes ``benchmarks/results/kernel_size<tag>.json``.
Needs the benchmark images (``ZSSR_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from bsd100_kernels import add_image_options, degraded_images, numbers

from zssr.estimators.spectral import anisotropic_kernel
from zssr.ops.kernels import kernel_covariance


def predicted_loss(x: np.ndarray) -> np.ndarray:
    """dB lost by ZSSR for a kernel whose variance is ``exp(x)`` times the true one (see the module's docstring)."""
    return 1.4 * (1 - np.exp(-16 * x**2)) * np.where(x > 0, 1.28, 0.88)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_image_options(parser)
    parser.add_argument("--weights", default="0,3", help="estimator.slope_prior_weight values")
    parser.add_argument("--priors", default="2", help="estimator.slope_prior values")
    parser.add_argument("--shrinks", default="0.8,0.85,0.9,0.95,1", help="estimator.shrink values")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    args = parser.parse_args()
    weights, priors = numbers(args.weights, "--weights"), numbers(args.priors, "--priors")
    shrinks = numbers(args.shrinks, "--shrinks")
    torch.set_num_threads(1)
    s = float(args.scale)
    settings = [(w, p) for w in weights for p in (priors if w > 0 else priors[:1])]
    errors: dict = {(w, p, sh): [] for w, p in settings for sh in shrinks}
    for name, _, deg in degraded_images(args):
        truth = kernel_covariance(deg.kernel)
        for (w, p, sh), found in errors.items():
            fitted = anisotropic_kernel(deg.lr, (s, s), sh, p, w)
            if fitted is None:  # nothing to fit: the estimator takes the width, which this does not score
                continue
            cov = kernel_covariance(fitted[0])
            found.append((float(np.log(np.trace(cov) / np.trace(truth))),
                          float(np.linalg.norm(cov - truth) / np.linalg.norm(truth)), name))
    rows = []
    print(f"{'weight':>6} {'prior':>5} {'shrink':>6} {'n':>3} {'size error':>15} {'shape error':>11} "
          f"{'predicted loss (dB)':>19}")
    for (w, p, sh), found in errors.items():
        size, shape = (np.array([f[i] for f in found]) for i in (0, 1))
        row = {"weight": w, "prior": p, "shrink": sh, "images": len(found), "size_mean": float(size.mean()),
               "size_std": float(size.std()), "shape_error": float(shape.mean()),
               "predicted_loss": float(predicted_loss(size).mean()),
               "per_image": {image: {"size": x, "shape": y} for x, y, image in found}}
        rows.append(row)
        print(f"{w:6g} {p:5g} {sh:6g} {len(found):3d} {size.mean():+7.3f} +- {size.std():.3f} {shape.mean():11.3f} "
              f"{row['predicted_loss']:19.3f}")
    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_size{args.tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"scale": args.scale, "degradation": args.degradation, "subset": args.subset,
                               "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
