"""A degradation step, a kernel estimator and a dataset from outside the package, each one module plus one YAML
(``tests/examples/``), found through ``PYTHONPATH`` and a config search path, run end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zssr.degradations import degrade
from zssr.ops.imageio import load_image
from zssr.ops.kernels import load_kernel

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = Path(__file__).parent / "examples"


def test_a_degradation_and_an_estimator_from_outside_the_package_run_end_to_end(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(EXAMPLES)}
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), f"hydra.searchpath=[file://{EXAMPLES}/conf]",
                           "degradation=vignette", "kernel=estimated", "estimator=fixed_gaussian",
                           "estimator.sigma=0.5", "dataset.samples=[chelsea]", "methods=[bicubic,zssr]",
                           "trainer.max_steps=5", "logger=none", "trainer.enable_progress_bar=false",
                           "inference.back_projection_iters=1", f"hydra.run.dir={tmp_path}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert {r["degradation"] for r in rows} == {"vignette"} and {r["method"] for r in rows} == {"bicubic", "zssr"}
    assert {r["estimator"] for r in rows} == {"fixed_gaussian"}
    # the vignette: the LR image darker in the corners than bicubic downscaling alone leaves it
    images = tmp_path / "images" / "chelsea"
    lr = load_image(images / "chelsea_lr.png").rgb
    plain = degrade(load_image(images / "chelsea_hr.png").rgb, 2, "bicubic", 0).lr
    assert float((plain - lr)[:, :10, :10].mean()) > 0.05 and float((plain - lr)[:, 70:80, 110:120].abs().mean()) < 0.01
    # the estimator's kernel: a round Gaussian of variance (0.5 x 2)^2 = 1 HR px^2, and what it reported
    result = json.loads(next(images.rglob("result.json")).read_text())
    assert result["kernel_estimation"]["details"] == {"sigma_hr_px": 1.0}
    kernel = load_kernel(result["kernel_estimation"]["kernel_file"])
    yy, xx = np.mgrid[: kernel.shape[0], : kernel.shape[1]]
    cy, cx = (kernel * yy).sum(), (kernel * xx).sum()
    assert abs((kernel * (yy - cy) ** 2).sum() - 1.0) < 0.02 and abs((kernel * (xx - cx) ** 2).sum() - 1.0) < 0.02


def test_bad_settings_of_outside_roles_are_one_line(monkeypatch):
    from zssr.api import compose_config
    from zssr.bench.datasets import build_dataset
    from zssr.errors import ZSSRError
    from zssr.estimators import build_estimator

    monkeypatch.syspath_prepend(str(EXAMPLES))
    search = f"hydra.searchpath=[file://{EXAMPLES}/conf]"
    cfg = compose_config([search, "estimator=fixed_gaussian", "estimator.sigma=9"])
    with pytest.raises(ZSSRError, match=r"^estimator.sigma must be in \[0.1, 5\], got 9$"):
        build_estimator(cfg.estimator)
    cfg = compose_config([search, "dataset=file_list", "dataset.path=nowhere.txt"], config_name="evaluate")
    with pytest.raises(ZSSRError, match="^dataset.path: no list of images at nowhere.txt$"):
        build_dataset(cfg.dataset)


def test_a_dataset_from_outside_the_package_lists_the_images(tmp_path, small_photo):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("b", "a"):
        (photos / f"{name}.png").write_bytes(small_photo.read_bytes())
    (tmp_path / "list.txt").write_text("# the test's images\nphotos/b.png\nphotos/a.png\n")
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(EXAMPLES)}
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), f"hydra.searchpath=[file://{EXAMPLES}/conf]",
                           "dataset=file_list", f"dataset.path={tmp_path / 'list.txt'}", "methods=[bicubic]",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [r["image"] for r in rows] == ["b", "a"] and {r["dataset"] for r in rows} == {"file_list"}
