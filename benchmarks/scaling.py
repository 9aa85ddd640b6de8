"""Train and inference time against input size: ``python benchmarks/scaling.py [--sizes 128 256 512 1024]``.

ZSSR trains on fixed-size crops, so the time per training iteration should not depend on the input size, while
inference (8 variants, back-projection) grows with the number of pixels. Each size runs the full pipeline at x2 on a
synthetic image with a fixed training budget; the table gives ms per training iteration, inference seconds and
inference microseconds per output pixel. Writes ``benchmarks/results/scaling.json``.
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
from zssr.pipeline import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--steps", type=int, default=200, help="training iterations per size")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    rows = []
    print(f"{'input':>6s} {'output':>10s} {'ms/iter':>8s} {'infer s':>8s} {'us/out px':>10s}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"synthetic_{size}.png"
            Image.fromarray(synthetic(size)).save(path)
            cfg = compose_config([f"input={path}", f"trainer.max_steps={args.steps}", "logger=none",
                                  "callbacks=none", "trainer.enable_progress_bar=false", *args.overrides],
                                 output_dir=Path(tmp) / "run")
            result = train(cfg)
        out_px = result["output_size"][0] * result["output_size"][1]
        row = {"size": size, "output_size": result["output_size"], "iterations": result["iterations"],
               "ms_per_iteration": 1000 * result["train_seconds"] / result["iterations"],
               "inference_seconds": result["inference_seconds"],
               "us_per_output_pixel": 1e6 * result["inference_seconds"] / out_px, "precision": result["precision"]}
        rows.append(row)
        print(f"{size:>6d} {'x'.join(map(str, row['output_size'])):>10s} {row['ms_per_iteration']:8.1f} "
              f"{row['inference_seconds']:8.2f} {row['us_per_output_pixel']:10.2f}", flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "scaling.json").write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
