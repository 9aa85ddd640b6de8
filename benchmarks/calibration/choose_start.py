"""Ways of choosing among the kernel GAN's starts, compared offline on ``kernel_estimation.py --starts N`` output.

    python benchmarks/calibration/choose_start.py benchmarks/results/kernel_estimation_ho_fkp_starts3.json

For each rule, the mean error of the kernel ZSSR would then be given (the bicubic kernel's where the too-wide check,
``--limit``, turns the choice down) and on how many images that is worse than the bicubic kernel by over 0.05. The
native-sharpness range and median are those of the held-out images with their true kernels
(``benchmarks/calibration/kernel_guard.py``). Prints a table; no training.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from zssr.estimators import Estimate
from zssr.estimators.kernelgan import choose
from zssr.ops.kernels import kernel_error


def rules(row: dict, args: argparse.Namespace) -> dict[str, float]:
    """The error of the kernel ZSSR would get from one image's starts, by each rule."""
    starts = [s for s in row["starts"] if s["error"] is not None]
    kernels = [np.array(s["kernel_x2"]) for s in starts]
    n, bicubic = len(starts), row["bicubic_error"]
    dist = np.array([[kernel_error(a, b) + kernel_error(b, a) for b in kernels] for a in kernels])

    def used(i: int) -> float:
        return bicubic if starts[i]["native_sharpness"] > args.limit else starts[i]["error"]

    def medoid(pool: list[int]) -> int:  # the rule estimator.starts uses
        return choose([Estimate(kernel=kernels[i], kernel_x2=kernels[i], seed=i) for i in pool]).seed

    def nearest(pool: list[int]) -> int:
        return min(pool, key=lambda i: min([dist[i][j] for j in pool if j != i] or [0]))

    if not starts:
        return {}
    everyone = list(range(n))
    inside = [i for i in everyone if args.low <= starts[i]["native_sharpness"] <= args.limit]
    natural = min(everyone, key=lambda i: abs(math.log(starts[i]["native_sharpness"] / args.median)))
    return {"the first start": used(0), "medoid": used(medoid(everyone)),
            "nearest to another start": used(nearest(everyone)),
            "native sharpness nearest the median": used(natural),
            "only inside the native range, else bicubic": starts[nearest(inside)]["error"] if inside else bicubic,
            "inside the range when any is, then medoid": used(medoid(inside or everyone)),
            "the best start or bicubic (oracle)": min(min(s["error"] for s in starts), bicubic),
            "the bicubic kernel": bicubic}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="JSON written by kernel_estimation.py --starts N")
    parser.add_argument("--limit", type=float, default=None,
                        help="the too-wide check (default: the estimator.sharpness_limit the results ran with)")
    parser.add_argument("--low", type=float, default=0.228, help="lowest native sharpness with a true kernel")
    parser.add_argument("--median", type=float, default=0.62, help="median native sharpness with a true kernel")
    args = parser.parse_args()
    results = json.load(open(args.results))
    if args.limit is None:
        args.limit = results["summary"]["settings"]["sharpness_limit"]
        args.limit = math.inf if args.limit is None else args.limit  # the check was off
    scores: dict[str, list[float]] = {}
    for row in results["rows"]:
        for rule, error in rules(row, args).items():
            scores.setdefault(rule, []).append(error)
    base = scores["the bicubic kernel"]
    print(f"| rule | mean error ({len(base)} images) | worse than the bicubic kernel |\n|---|---|---|")
    for rule, errors in scores.items():
        worse = sum(e > b + 0.05 for e, b in zip(errors, base, strict=True))
        print(f"| {rule} | {np.mean(errors):.3f} | {worse} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
