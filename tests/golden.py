"""Golden runs: short seeded end-to-end runs whose numbers and output images must not change when code only moves.

``python tests/golden.py`` records them into ``tests/golden/<machine>.json``; ``tests/test_golden.py`` reruns them and
compares. Floating-point results depend on the CPU's kernels (AVX2 and AVX-512 sum in different orders), so each
record is keyed by the CPU capability, the torch version and the thread count; on a machine without a record the
test says so and skips (record one there with this script).

The cases: the 2018 code's recipe (LR policy on), a given kernel, ``kernel=estimated`` accepted and rejected, a gradual
run, and ``evaluate.py`` on two images with random kernels. All in fp32 so every CPU class runs the same arithmetic.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
GOLDEN_DIR = ROOT / "golden"
QUIET = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false", "precision=fp32", "seed=1234",
         "recipe=zssr2018"]
IGNORED = ("seconds", "device")  # wall-clock times and where it ran are not results
THREADS = min(2, os.cpu_count() or 1)  # the runs' torch threads: reductions split differently with another count


def machine_key() -> str:
    bf16 = "-bf16" if torch.cpu._is_avx512_bf16_supported() else ""
    capability = torch.backends.cpu.get_cpu_capability().lower()
    return f"{capability}{bf16}-torch{torch.__version__}-t{THREADS}"


def _inputs(work: Path, data_dir: Path) -> dict[str, Path]:
    """The small real inputs of the cases, made into ``work``."""
    from zssr.degradations import gaussian_kernel
    from zssr.ops.imageio import load_image, open_input, save_image
    from zssr.ops.kernels import bicubic_kernel
    from zssr.ops.resize import imresize, kernel_downscale

    work.mkdir(parents=True, exist_ok=True)
    bsd = data_dir / "zssr_test_data" / "example_with_gt"
    lr, gt = load_image(bsd / "bsd_001.png"), load_image(bsd / "bsd_001_gt.png")
    files = {"lr": save_image(work / "lr.png", lr.rgb[:, 40:88, 30:94], lr),
             "gt": save_image(work / "gt.png", gt.rgb[:, 80:176, 60:188], gt)}
    hr = open_input("skimage:astronaut")
    crop = hr.rgb[:, :384, :384].double()
    kernel = gaussian_kernel(2, np.random.default_rng(7))
    blurred = (kernel_downscale(crop, torch.as_tensor(kernel), 2).clamp(0, 1) * 255).round() / 255
    files["blurred"] = save_image(work / "blurred.png", blurred.float(), hr)
    np.save(work / "blurred_true.npy", kernel)
    files["blurred_true"] = work / "blurred_true.npy"
    files["sharp"] = save_image(work / "sharp.png", imresize(crop, 0.5).clamp(0, 1).float(), hr)
    np.save(work / "bicubic.npy", bicubic_kernel(2))
    files["bicubic"] = work / "bicubic.npy"
    return files


def cases(data_dir: Path) -> dict[str, tuple[str, Callable[[Path, dict[str, Path]], list[str]]]]:
    """name -> (config name, overrides for a run in ``out`` with the inputs ``f``)."""
    example = data_dir / "zssr_test_data" / "kernel_example" / "BSD100_100_lr_rand_ker_c_X2.png"
    example_kernel = example.with_name(example.stem + "_0.mat")
    return {
        "default": ("train", lambda out, f: [f"input={f['lr']}", f"gt={f['gt']}", "trainer.max_steps=300"]),
        "given_kernel": ("train", lambda out, f: [f"input={example}", f"kernel={example_kernel}",
                                                  "experiment=given_kernel", "trainer.max_steps=20"]),
        # the GAN estimator, so its rejection of a too-wide estimate is covered too
        "estimated": ("train", lambda out, f: [f"input={f['blurred']}", "kernel=estimated", "estimator=kernelgan",
                                               f"true_kernel={f['blurred_true']}", "estimator.max_steps=300",
                                               "trainer.max_steps=10"]),
        "rejected": ("train", lambda out, f: [f"input={f['sharp']}", "kernel=estimated", "estimator=kernelgan",
                                              f"true_kernel={f['bicubic']}", "estimator.max_steps=300",
                                              "trainer.max_steps=10"]),
        "gradual": ("train", lambda out, f: [f"input={f['lr']}", f"gt={f['gt']}", "experiment=gradual",
                                             "trainer.max_steps=10"]),
        "evaluate": ("evaluate", lambda out, f: ["dataset.samples=[chelsea,coffee]", "degradation=random_kernel",
                                                 "kernel=true", "trainer.max_steps=10"]),
    }


def run_case(name: str, out: Path, files: dict[str, Path], data_dir: Path) -> None:
    from hydra.core.global_hydra import GlobalHydra

    from zssr.api import compose_config

    torch.set_num_threads(THREADS)
    config_name, overrides = cases(data_dir)[name]
    quiet = [o for o in QUIET if config_name == "train" or not o.startswith(("logger=", "callbacks="))]
    cfg = compose_config([*quiet, *overrides(out, files)], config_name=config_name, output_dir=out)
    GlobalHydra.instance().clear()
    if config_name == "train":
        from zssr.run.pipeline import train

        train(cfg)
    else:
        from zssr.bench.evaluation import evaluate

        evaluate(cfg)


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): value}


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def fingerprint(out: Path) -> dict:
    """What a run left that must not change: result numbers, table rows, image bytes, kernel values."""
    record: dict = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.name in ("result.json", "summary.json"):
            record[rel] = _flatten(json.loads(path.read_text()))
        elif path.name == "metrics.csv" and not rel.startswith(("csv/", "kernelgan/")) and "/csv/" not in rel:
            record[rel] = {f"{i}.{k}": _number(v) for i, row in enumerate(csv.DictReader(path.open()))
                           for k, v in row.items()}
        elif path.suffix == ".png" and "kernel_" not in path.name and path.name != "psnr_gain.png":
            record[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.suffix == ".npy":
            record[rel] = np.load(path).ravel().tolist()
    return record


def differences(golden: dict, now: dict) -> list[str]:
    """Every place ``now`` departs from ``golden`` (numbers to 1e-6; paths by file name; times ignored)."""
    problems = []
    for rel, want in golden.items():
        have = now.get(rel)
        if have is None:
            problems.append(f"{rel}: missing")
        elif isinstance(want, str):
            if want != have:
                problems.append(f"{rel}: bytes differ")
        elif isinstance(want, list):
            if len(want) != len(have) or not np.allclose(want, have, rtol=0, atol=1e-9):
                problems.append(f"{rel}: values differ")
        else:
            for key, value in want.items():
                if any(word in key for word in IGNORED):
                    continue
                got = have.get(key, "<missing>")
                if isinstance(value, float) and isinstance(got, float):
                    same = (math.isnan(value) and math.isnan(got)) or abs(value - got) <= 1e-6
                elif isinstance(value, str) and "/" in value and isinstance(got, str):
                    same = Path(value).name == Path(got).name
                else:
                    same = value == got
                if not same:
                    problems.append(f"{rel}: {key} was {value!r}, now {got!r}")
    return problems


def record(data_dir: Path, work: Path) -> Path:
    files = _inputs(work / "inputs", data_dir)
    golden = {}
    for name in cases(data_dir):
        out = work / name
        run_case(name, out, files, data_dir)
        golden[name] = fingerprint(out)
    GOLDEN_DIR.mkdir(exist_ok=True)
    path = GOLDEN_DIR / f"{machine_key()}.json"
    path.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    from conftest import DATA_DIR

    with tempfile.TemporaryDirectory() as tmp:
        print(record(DATA_DIR, Path(tmp)))
