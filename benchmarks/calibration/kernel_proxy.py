"""What a kernel is worth to SR, without training: a proxy for tuning kernel estimators in seconds per image.

    python benchmarks/calibration/kernel_proxy.py [--images 80] [--scale 2] [--degradation random_kernel]
        [--targets 0.4,0.62]

Each held-out BSD100 image (outside the reported 20-image subset; ``--subset`` scores the subset instead, once a setting
is chosen) is degraded exactly as ``evaluate.py dataset=bsd100`` does, upscaled with bicubic interpolation and then
back-projected 8 times through a candidate kernel (``zssr.method.inference.back_project``, the step ZSSR's output ends
with; fewer where ``zssr.method.inference.stable_rounds`` caps them, as in ZSSR). Its PSNR on Y against the HR image
says how much that kernel helps: the bicubic kernel, the true kernel, the isotropic Gaussian closest to the true kernel
(``oracle_iso``), ``estimator=spectral``'s fitted Gaussian (``shape: anisotropic``) at each ``estimator.shrink`` in
``--shrinks`` (``--slope-weight``: its ``estimator.slope_prior_weight``) and its isotropic width (``shape: isotropic``)
at each ``estimator.native_target`` in ``--targets``. On 19 images where ZSSR ran with the bicubic kernel and with
``spectral``'s isotropic estimate, the proxy's difference between the two tracked ZSSR's
(docs/lab/kernel_estimation.md). Prints the mean, the mean kernel error, the worst image against the bicubic kernel and
how many images are more than 0.3 dB below it, per candidate, and writes ``benchmarks/results/kernel_proxy<tag>.json``.
Needs the benchmark images (``ZSSR_DATA_DIR``). """

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from bsd100_kernels import add_image_options, degraded_images, numbers

from zssr.estimators.spectral import anisotropic_kernel, gaussian_widths, spectral_kernel
from zssr.method.inference import back_project, stable_rounds
from zssr.ops.kernels import bicubic_kernel, kernel_error
from zssr.ops.metrics import psnr, shave_for
from zssr.ops.resize import imresize


def candidates(lr: torch.Tensor, truth: np.ndarray, scale: float, targets: list[float], shrinks: list[float],
               slope_weight: float) -> dict:
    """The kernels to score (None: the bicubic kernel)."""
    _, widths, _ = gaussian_widths((scale, scale))
    kernels = {"bicubic": None, "true": truth, "oracle_iso": min(widths, key=lambda k: kernel_error(k, truth))}
    for shrink in shrinks:
        fitted = anisotropic_kernel(lr, (scale, scale), shrink, slope_weight=slope_weight)
        kernels[f"anisotropic_{shrink:g}"] = spectral_kernel(lr, (scale, scale), targets[0])[0] if fitted is None \
            else fitted[0]  # where the spectrum gives no fit the estimator takes the width
    kernels.update({f"spectral_{t:g}": spectral_kernel(lr, (scale, scale), t)[0] for t in targets})
    return kernels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_image_options(parser)
    parser.add_argument("--targets", default="0.35,0.4,0.45,0.5,0.55,0.62", help="native targets for spectral")
    parser.add_argument("--shrinks", default="0.9", help="estimator.shrink values for the anisotropic fit")
    parser.add_argument("--slope-weight", type=float, default=3.0,
                        help="estimator.slope_prior_weight of the anisotropic fit (0: no prior)")
    parser.add_argument("--iterations", type=int, default=8, help="back-projections per candidate")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    args = parser.parse_args()
    targets, shrinks = numbers(args.targets, "--targets"), numbers(args.shrinks, "--shrinks")
    torch.set_num_threads(1)
    s, rows = args.scale, []
    for name, hr, deg in degraded_images(args):
        up = imresize(deg.lr, (s, s), out_shape=hr.shape[-2:])
        row, errors = {"image": name}, {}
        for label, k in candidates(deg.lr, deg.kernel, float(s), targets, shrinks, args.slope_weight).items():
            kernel = None if k is None else torch.as_tensor(k, dtype=torch.float32)
            errors[label] = kernel_error(k if k is not None else bicubic_kernel(s), deg.kernel)
            # as many rounds as ZSSR's ensemble would keep (fewer for kernels that make them diverge)
            rounds = stable_rounds(deg.lr, (float(s),) * 2, kernel, args.iterations)
            row[label] = psnr(back_project(up, deg.lr, (float(s),) * 2, kernel, rounds), hr, shave=shave_for(s))
        rows.append(row | {"kernel_error": errors})
        print(" ".join([f"{name:>7}"] + [f"{k} {v:.2f}" for k, v in row.items() if k != "image"]), flush=True)
    names = [k for k in rows[0] if k not in ("image", "kernel_error")]
    summary = {name: {"mean": float(np.mean([r[name] for r in rows])),
                      "kernel_error": float(np.mean([r["kernel_error"][name] for r in rows])),
                      "worst_vs_bicubic": float(min(r[name] - r["bicubic"] for r in rows)),
                      "below_bicubic_0.3": int(sum(r[name] - r["bicubic"] < -0.3 for r in rows))} for name in names}
    print(f"\n{'kernel':>16} {'mean PSNR':>10} {'kernel error':>13} {'worst vs bicubic':>17} {'images < -0.3 dB':>17}")
    for name, v in summary.items():
        print(f"{name:>16} {v['mean']:10.3f} {v['kernel_error']:13.3f} {v['worst_vs_bicubic']:17.2f} "
              f"{v['below_bicubic_0.3']:17d}")
    out = Path(__file__).resolve().parents[1] / "results" / f"kernel_proxy{args.tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"images": len(rows), "subset": args.subset, "scale": s, "degradation": args.degradation,
                               "iterations": args.iterations, "summary": summary, "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
