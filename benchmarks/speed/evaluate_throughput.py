"""Images per hour of ``evaluate.py``: one job using every core vs ``k`` joblib jobs sharing them.

    python benchmarks/speed/evaluate_throughput.py --images 4 --jobs 1 2 [--steps 500]

The parallel runs split the same images into ``k`` shards (``dataset.shard=[i,k]``) of one Hydra multirun with
``hydra/launcher=joblib``; each job gets an even share of the cores automatically. Uses the offline ``samples``
photos, so it needs no data. Wall time includes process start-up. Writes
``benchmarks/results/evaluate_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ["astronaut", "chelsea", "coffee", "camera", "rocket", "immunohistochemistry", "coins",
          "hubble_deep_field"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=500, help="trainer.max_steps per image (fixed budget)")
    args = parser.parse_args()
    photos = PHOTOS[: args.images]
    rows = []
    print(f"{'jobs':>5s} {'images':>7s} {'wall s':>8s} {'images/hour':>12s}")
    for k in args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            # the 2018 schedule's 128-pixel crops, as the timings in docs/lab/results.md
            cmd = [sys.executable, str(ROOT / "evaluate.py"), f"dataset.samples=[{','.join(photos)}]",
                   "methods=[zssr]", f"trainer.max_steps={args.steps}", "recipe=zssr2018"]
            if k == 1:
                cmd += [f"hydra.run.dir={tmp}/run"]
            else:
                shards = ",".join(f"[{i},{k}]" for i in range(k))
                cmd.insert(2, "-m")  # Hydra wants it before the overrides
                cmd += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={k}", f"dataset.shard={shards}",
                        f"hydra.sweep.dir={tmp}/sweep"]
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
        row = {"jobs": k, "images": len(photos), "wall_seconds": wall, "images_per_hour": 3600 * len(photos) / wall}
        rows.append(row)
        print(f"{k:>5d} {len(photos):>7d} {wall:8.1f} {row['images_per_hour']:12.1f}", flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "evaluate_throughput.json").write_text(json.dumps({"steps": args.steps, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
