"""Memory and time of ZSSR on a large input (tiled inference): ``python benchmarks/speed/large_image.py --size 2000``.

Synthesises a smooth-plus-texture RGB image of ``size x size``, runs the full pipeline at x2 with a short training
budget (inference cost does not depend on it), and reports the seconds spent in training and inference and the peak
resident memory of the process. Writes ``benchmarks/results/large_image_<size>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from zssr.api import compose_config
from zssr.cli import apply_threads
from zssr.ops.compute import cpu_flags
from zssr.run.pipeline import train


def synthetic(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(9 * yy + 3 * xx), np.cos(7 * xx - 2 * yy), np.sin(5 * (xx + yy))], -1) * 0.35 + 0.5
    return (np.clip(base + 0.05 * rng.standard_normal(base.shape), 0, 1) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100, help="training iterations (the budget does not matter here)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synthetic_{args.size}.png"
        Image.fromarray(synthetic(args.size)).save(path)
        # the 2018 schedule's 128-pixel crops, as the timings in docs/lab/results.md
        cfg = compose_config([f"input={path}", f"trainer.max_steps={args.steps}", "logger=none", "callbacks=none",
                              "trainer.enable_progress_bar=false", "recipe=zssr2018", *args.overrides],
                             output_dir=Path(tmp) / "run")
        apply_threads(cfg)
        result = train(cfg)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    row = {"size": args.size, "output_size": result["output_size"], "train_seconds": result["train_seconds"],
           "inference_seconds": result["inference_seconds"], "peak_rss_gib": round(peak_gib, 2),
           "precision": result["precision"], "steps": args.steps, "overrides": args.overrides,
           "cpu_flags": cpu_flags()}
    print(f"{'input':>10s} {'output':>12s} {'train s':>8s} {'infer s':>8s} {'peak GiB':>9s}")
    print(f"{args.size:>10d} {'x'.join(map(str, row['output_size'])):>12s} {row['train_seconds']:8.1f} "
          f"{row['inference_seconds']:8.1f} {peak_gib:9.2f}")
    out = Path(__file__).resolve().parents[1] / "results"
    out.mkdir(exist_ok=True)
    (out / f"large_image_{args.size}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
