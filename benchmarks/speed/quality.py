"""End-to-end quality and time of ZSSR on the reference images, at one or more precisions.

    python benchmarks/speed/quality.py --suite examples            # bsd_001 and kernel_example (true vs bicubic kernel)
    python benchmarks/speed/quality.py --suite set5 --precision bf16 fp32
    python benchmarks/speed/quality.py --suite bsd100 --count 10  # the seeded subset that dataset.count=10 picks

Per image: PSNR / SSIM, iterations, training FLOPs, ms per iteration and seconds; with the CPU flags and the compute
path chosen. Needs the benchmark images (``paths.data_dir``: ``ZSSR_DATA_DIR``). Prints a table and writes JSON to
``benchmarks/results/quality_<suite>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from zssr.api import compose_config, data_dir
from zssr.bench.datasets import list_images
from zssr.cli import apply_threads
from zssr.degradations import degrade
from zssr.ops.compute import cpu_flags
from zssr.ops.imageio import load_image, save_image
from zssr.run.pipeline import train

DATA = data_dir()


def bicubic_lr_pair(hr_path: Path, scale: int, workdir: Path) -> tuple[Path, Path]:
    """The usual protocol (``degradation=bicubic``): HR cropped to a multiple of the scale, MATLAB-bicubic
    downscaled, rounded to 8 bits."""
    hr = load_image(hr_path)
    deg = degrade(hr.rgb, scale, "bicubic", seed=0)
    lr_path, gt_path = workdir / f"{hr.name}_x{scale}_lr.png", workdir / f"{hr.name}_x{scale}_gt.png"
    save_image(lr_path, deg.lr, hr)
    save_image(gt_path, deg.hr, hr)
    return lr_path, gt_path


def cases(suite: str, workdir: Path, count: int = 0, seed: int = 1234) -> list[tuple[str, list[str]]]:
    ex = DATA / "zssr_test_data"
    if suite == "examples":
        gt97 = load_image(DATA / "bsd100/HR/97033.png")
        gt_path = workdir / "97033_gt.png"
        save_image(gt_path, gt97.rgb[:, :320, :480], gt97)
        ker_in = ex / "kernel_example/BSD100_100_lr_rand_ker_c_X2.png"
        return [
            ("bsd_001", [f"input={ex / 'example_with_gt/bsd_001.png'}", f"gt={ex / 'example_with_gt/bsd_001_gt.png'}"]),
            ("kernel_example/true_kernel", [f"input={ker_in}", f"gt={gt_path}", "experiment=given_kernel",
                                            f"kernel={ex / 'kernel_example/BSD100_100_lr_rand_ker_c_X2_0.mat'}"]),
            ("kernel_example/bicubic_kernel", [f"input={ker_in}", f"gt={gt_path}"]),
        ]
    if suite in ("set5", "set14", "bsd100"):
        out = []
        refs = list_images(suite, root=str(DATA / suite / "HR"), count=count or None, seed=seed)
        for hr_path in sorted(Path(ref.source) for ref in refs):
            lr, gt = bicubic_lr_pair(hr_path, 2, workdir)
            out.append((hr_path.stem, [f"input={lr}", f"gt={gt}"]))
        return out
    raise SystemExit(f"unknown suite {suite}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="examples", choices=["examples", "set5", "set14", "bsd100"])
    parser.add_argument("--precision", nargs="+", default=["auto"])
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--count", type=int, default=0, help="a seeded random subset of N images (as dataset.count)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the --count subset (evaluate.py's default)")
    parser.add_argument("--images", nargs="*", default=None, help="only these image names")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. trainer.max_steps=500")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: benchmark images not found at {DATA}; set ZSSR_DATA_DIR")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        todo = [c for c in cases(args.suite, work, args.count, args.seed) if args.images is None or c[0] in args.images]
        todo = todo[: args.limit or None]
        for name, overrides in todo:
            for precision in args.precision:
                out = work / f"{name.replace('/', '_')}_{precision}"
                quiet = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]
                cfg = compose_config([*overrides, f"precision={precision}", *quiet, *args.overrides], output_dir=out)
                apply_threads(cfg)  # threads=N in the overrides, as evaluate.py takes it
                t0 = time.perf_counter()
                result = train(cfg)
                ms = 1000 * result["train_seconds"] / max(1, result["iterations"])
                rows.append({"image": name, "precision": result["precision"], "psnr": result["psnr"],
                             "ssim": result["ssim"], "psnr_bicubic": result["psnr_bicubic"],
                             "ssim_bicubic": result["ssim_bicubic"], "iterations": result["iterations"],
                             "train_tflops": result["train_flops"] / 1e12, "ms_per_iteration": ms,
                             "seconds": result["seconds"], "wall": time.perf_counter() - t0,
                             "compute": result["compute"]})
                print(f"{name:32s} {result['precision']:10s} {result['psnr']:6.2f} {result['ssim']:.4f} "
                      f"(bicubic {result['psnr_bicubic']:6.2f} {result['ssim_bicubic']:.4f}) "
                      f"{result['iterations']:5d} it {result['train_flops'] / 1e12:6.1f} TFLOP {ms:6.1f} ms/it "
                      f"{result['seconds']:6.1f} s", flush=True)
    print("\nmeans")
    for precision in sorted({r["precision"] for r in rows}):
        sel = [r for r in rows if r["precision"] == precision]
        mean = {k: np.mean([r[k] for r in sel]) for k in ("psnr", "ssim", "psnr_bicubic", "seconds", "iterations",
                                                          "train_tflops", "ms_per_iteration")}
        print(f"  {precision:10s} psnr {mean['psnr']:.3f} ssim {mean['ssim']:.4f} bicubic {mean['psnr_bicubic']:.3f}"
              f" seconds {mean['seconds']:.1f} (median {np.median([r['seconds'] for r in sel]):.1f})"
              f" iterations {mean['iterations']:.0f} TFLOP {mean['train_tflops']:.1f}"
              f" ms/it {mean['ms_per_iteration']:.1f}")
    flags = cpu_flags()
    paths = sorted({(r["compute"]["precision"], r["compute"]["channels_last"]) for r in rows})
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, flags "
          f"{' '.join(k for k, v in flags.items() if v)}; (precision, training channels-last): {paths}")
    results = Path(__file__).resolve().parents[1] / "results"
    results.mkdir(exist_ok=True)
    path = results / f"quality_{args.suite}{args.tag}.json"
    path.write_text(json.dumps({"suite": args.suite, "overrides": args.overrides, "torch": torch.__version__,
                                "threads": torch.get_num_threads(), "cpu_flags": flags,
                                "cpu_capability": torch.backends.cpu.get_cpu_capability(), "rows": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
