"""Train and inference time against input size: ``python benchmarks/speed/scaling.py [--sizes 128 256 512 1024]``.

ZSSR trains on fixed-size crops, so the time per training iteration should not depend on the input size, while
inference (8 variants, back-projection) grows with the number of pixels. Each size runs the full pipeline at x2 on a
synthetic image, once with ``--steps`` training iterations and once with twice as many: the difference gives the steady
ms per training iteration (reconstruction tests included), the rest of the training time is one-off setup (the father
pool, the first steps). Inference seconds and microseconds per output pixel come from the longer run. Writes
``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from large_image import synthetic  # same directory
from PIL import Image

from zssr.api import compose_config
from zssr.cli import apply_threads
from zssr.run.pipeline import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--steps", type=int, default=200, help="training iterations per size")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    rows = []
    print(f"{'input':>6s} {'output':>10s} {'ms/iter':>8s} {'setup s':>8s} {'infer s':>8s} {'us/out px':>10s}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"synthetic_{size}.png"
            Image.fromarray(synthetic(size)).save(path)
            runs = []
            for steps in (args.steps, 2 * args.steps):  # the difference is the steady per-step cost
                # the 2018 schedule's 128-pixel crops, as the timings in docs/lab/results.md
                cfg = compose_config([f"input={path}", f"trainer.max_steps={steps}", "logger=none",
                                      "callbacks=none", "trainer.enable_progress_bar=false", "recipe=zssr2018",
                                      *args.overrides],
                                     output_dir=Path(tmp) / f"run{steps}")
                apply_threads(cfg)
                runs.append(train(cfg))
        short, result = runs
        per_step = (result["train_seconds"] - short["train_seconds"]) / (result["iterations"] - short["iterations"])
        out_px = result["output_size"][0] * result["output_size"][1]
        row = {"size": size, "output_size": result["output_size"], "iterations": result["iterations"],
               "ms_per_iteration": 1000 * per_step,
               "setup_seconds": result["train_seconds"] - per_step * result["iterations"],
               "inference_seconds": result["inference_seconds"],
               "us_per_output_pixel": 1e6 * result["inference_seconds"] / out_px, "precision": result["precision"]}
        rows.append(row)
        print(f"{size:>6d} {'x'.join(map(str, row['output_size'])):>10s} {row['ms_per_iteration']:8.1f} "
              f"{row['setup_seconds']:8.2f} {row['inference_seconds']:8.2f} {row['us_per_output_pixel']:10.2f}",
              flush=True)
    out = Path(__file__).resolve().parents[1] / "results"
    out.mkdir(exist_ok=True)
    (out / "scaling.json").write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
