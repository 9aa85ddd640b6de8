"""evaluate.py's core: datasets and subsets, the metrics file, resuming, summary and report."""

import csv
import json

import pytest
from PIL import Image

import zssr.bench.evaluation as evaluation
from zssr.api import compose_config
from zssr.bench.datasets import list_images, reported_split
from zssr.errors import ZSSRError

from conftest import DATA_DIR, needs_data, tiny_overrides


def eval_config(tmp_path, *overrides, steps=5):
    quick = [o for o in tiny_overrides(steps) if not o.startswith(("logger=", "callbacks="))]
    return compose_config([*quick, *overrides], config_name="evaluate", output_dir=tmp_path)


def test_subsets_and_shards():
    refs = list_images("samples", samples=["astronaut", "chelsea", "coffee", "camera"])
    assert [r.name for r in refs] == ["astronaut", "chelsea", "coffee", "camera"]
    assert [r.name for r in list_images("s", samples=["a", "b", "c"], names=["c"])] == ["c"]
    picked = list_images("s", samples=list("abcdefgh"), count=3, seed=7)
    assert len(picked) == 3 and picked == list_images("s", samples=list("abcdefgh"), count=3, seed=7)
    shards = [list_images("s", samples=list("abcdefg"), shard=[i, 3]) for i in range(3)]
    assert sorted(r.name for s in shards for r in s) == list("abcdefg")
    with pytest.raises(ZSSRError, match="shard"):
        list_images("s", samples=["a"], shard=[3, 3])
    with pytest.raises(ZSSRError, match="no image named"):
        list_images("s", samples=["a"], names=["zz"])


@needs_data
def test_the_reported_subset_and_the_held_out_images_split_bsd100():
    """The benchmarks tune on the held-out images and report on the subset evaluate.py's dataset.count=20 picks."""
    root = str(DATA_DIR / "bsd100" / "HR")
    reported, held_out = reported_split(root, held_out=False), reported_split(root, held_out=True)
    assert reported == list_images("bsd100", root=root, count=20, seed=1234) and len(held_out) == 80
    assert sorted(r.name for r in reported + held_out) == sorted(r.name for r in list_images("bsd100", root=root))
    assert "3096" in {r.name for r in reported} and held_out[0].name == "101085"


def test_missing_standard_dataset_says_where_to_put_it(tmp_path):
    with pytest.raises(ZSSRError, match="put the 100 HR PNGs of bsd100"):
        list_images("bsd100", root=str(tmp_path / "bsd100" / "HR"))


def test_bicubic_only_evaluation_writes_metrics_summary_and_report(tmp_path):
    cfg = eval_config(tmp_path, "methods=[bicubic]", "dataset.samples=[chelsea,coffee]", "scale=3")
    summary = evaluation.evaluate(cfg)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [r["image"] for r in rows] == ["chelsea", "coffee"] and all(r["method"] == "bicubic" for r in rows)
    assert summary["n_images"] == 2 and summary["methods"]["bicubic"]["psnr"] > 20
    assert json.loads((tmp_path / "summary.json").read_text())["scale"] == 3.0
    assert "| bicubic |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "images" / "chelsea" / "chelsea_lr.png").is_file()


def test_rerun_skips_finished_images_and_keeps_results(tmp_path, monkeypatch):
    cfg = eval_config(tmp_path, "dataset.samples=[chelsea]", "degradation=random_kernel", "kernel=true",
                      "inference.back_projection_iters=1", steps=5)
    first = evaluation.evaluate(cfg)
    before = (tmp_path / "metrics.csv").read_text()
    assert (tmp_path / "images" / "chelsea" / "chelsea_kernel.mat").is_file()

    def boom(*args, **kwargs):
        raise AssertionError("a finished image was recomputed")

    monkeypatch.setattr(evaluation, "run", boom)
    second = evaluation.evaluate(cfg)
    assert (tmp_path / "metrics.csv").read_text() == before and second == first


def test_estimated_kernel_is_scored_against_the_true_one(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = eval_config(tmp_path, "dataset.samples=[astronaut]", "degradation=random_kernel", "kernel=estimated",
                      "estimator=kernelgan", "estimator.max_steps=300", "inference.back_projection_iters=1",
                      "logger=wandb", steps=5)
    summary = evaluation.evaluate(cfg)
    row = next(r for r in csv.DictReader(open(tmp_path / "metrics.csv")) if r["method"] == "zssr")
    assert row["kernel"] == "estimated" and row["estimator"] == "kernelgan"
    assert 0 < float(row["kernel_error"]) < 1 and float(row["estimation_seconds"]) > 0
    zssr_dir = tmp_path / "images" / "astronaut" / "zssr"
    result = json.loads((zssr_dir / "result.json").read_text())
    assert result["kernel"] == "estimated" and result["kernel_estimation"]["iterations"] == 300
    assert result["kernel_estimation"]["kernel_error"] < result["kernel_estimation"]["bicubic_kernel_error"]
    for suffix in ("npy", "mat", "png"):
        assert (zssr_dir / f"astronaut_lr_kernel_estimated.{suffix}").is_file()
    assert "kernelgan/d" in (zssr_dir / "kernelgan" / "metrics.csv").read_text().splitlines()[0]
    assert summary["methods"]["zssr"]["kernel_error"] == pytest.approx(float(row["kernel_error"]), abs=1e-6)
    report = (tmp_path / "report.md").read_text()
    assert "Kernels estimated from each LR image" in report
    picture = "images/astronaut/zssr/astronaut_lr_kernel_estimated.png"
    assert f"| astronaut | {row['kernel_error']} |  | ![astronaut]({picture}) |" in report
    assert summary["files"]["kernels"] == {"astronaut": picture}
    runs = list((tmp_path / "wandb").glob("offline-run-*"))  # the dashboard shows it too
    assert len(runs) == 1 and len(list(runs[0].glob("files/media/images/kernel_*.png"))) == 1


@needs_data
def test_standard_dataset_from_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSR_DATA_DIR", str(DATA_DIR))
    cfg = eval_config(tmp_path, "dataset=set5", "methods=[bicubic]")
    summary = evaluation.evaluate(cfg)
    assert summary["n_images"] == 5
    assert summary["methods"]["bicubic"]["psnr"] == pytest.approx(33.66, abs=0.02)
    assert summary["methods"]["bicubic"]["ssim"] == pytest.approx(0.9299, abs=0.001)
    assert "33.66" in (tmp_path / "report.md").read_text()


def test_shards_aggregate_into_one_table(tmp_path, capsys):
    from zssr.aggregate import main as aggregate

    for i in range(2):
        evaluation.evaluate(eval_config(tmp_path / f"shard{i}", "methods=[bicubic]",
                                        "dataset.samples=[astronaut,chelsea,coffee]", f"dataset.shard=[{i},2]"))
    whole = evaluation.evaluate(eval_config(tmp_path / "whole", "methods=[bicubic]",
                                            "dataset.samples=[astronaut,chelsea,coffee]"))
    # training-curve logs below a run dir are also called metrics.csv; they are not evaluate tables
    curves = tmp_path / "shard0" / "images" / "astronaut" / "zssr" / "csv" / "metrics.csv"
    curves.parent.mkdir(parents=True)
    curves.write_text("epoch,step,train/loss\n0,1,0.5\n")
    assert aggregate([str(tmp_path / "shard0"), str(tmp_path / "shard1"), "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "aggregate.json").read_text())
    assert len(merged) == 1 and merged[0]["n_images"] == 3
    assert merged[0]["psnr"] == pytest.approx(whole["methods"]["bicubic"]["psnr"], abs=1e-5)
    assert "| samples | bicubic | bicubic |  | 2 | bicubic | 3 |" in capsys.readouterr().out
    assert aggregate([str(tmp_path / "nothing-here")]) == 1


def test_estimators_stay_apart_and_older_tables_still_read(tmp_path, capsys):
    """Two estimators' rows for one image are two results, not one repeated by shards; a table from before the
    estimator column still resumes and aggregates."""
    from zssr.aggregate import main as aggregate
    from zssr.bench.table import COLUMNS, MetricsFile

    row = {"dataset": "bsd100", "degradation": "random_kernel", "kernel": "estimated", "scale": "2", "image": "3096",
           "method": "zssr", "ssim": 0.9, "seconds": 1.0, "iterations": 10}
    for name, psnr in (("kernelgan", 30.0), ("kernelgan_fkp", 31.0)):
        MetricsFile(tmp_path / name / "metrics.csv").add([{**row, "estimator": name, "psnr": psnr}])
    old = tmp_path / "old" / "metrics.csv"
    old.parent.mkdir()
    old.write_text(",".join(c for c in COLUMNS if c != "estimator") + "\n"
                   "bsd100,random_kernel,estimated,2,3096,zssr,29.0,0.9,,1.0,10,,\n")
    assert MetricsFile(old).done("3096", ["zssr"])
    assert aggregate([str(tmp_path), "--out", str(tmp_path / "merged")]) == 0
    merged = {e["estimator"]: e["psnr"] for e in json.loads((tmp_path / "merged" / "aggregate.json").read_text())}
    assert merged == {"": 29.0, "kernelgan": 30.0, "kernelgan_fkp": 31.0}
    assert "| estimated | kernelgan_fkp | 2 | zssr | 1 | 31.00 |" in capsys.readouterr().out
    # per image: one column per estimator, differences to the second; an image one column lacks is left out of means
    MetricsFile(tmp_path / "kernelgan" / "metrics.csv").add([{**row, "image": "8023", "estimator": "kernelgan",
                                                              "psnr": 25.0}])
    assert aggregate([str(tmp_path), "--out", str(tmp_path / "merged"), "--per-image", "--delta-to", "2"]) == 0
    table = (tmp_path / "merged" / "per_image.md").read_text().splitlines()
    assert table[0] == "| image | 1: - | 2: kernelgan | 3: kernelgan_fkp |"
    assert table[2:] == ["| 3096 | 29.00 (-1.00) | 30.00 | 31.00 (+1.00) |", "| 8023 |  | 25.00 |  |",
                         "| mean of 1 | 29.00 (-1.00) | 30.00 | 31.00 (+1.00) |", "| worst delta | -1.00 |  | +1.00 |"]
    assert aggregate([str(tmp_path), "--per-image", "--delta-to", "4"]) == 1
    assert "error: --delta-to must be a column number from 1 to 3" in capsys.readouterr().err


def test_wandb_dashboard_offline_one_run_with_panels_and_table(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = eval_config(tmp_path, "logger=wandb", "dataset.samples=[chelsea,coffee]",
                      "inference.back_projection_iters=1", steps=5)
    evaluation.evaluate(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    assert len(list(runs[0].glob("files/media/images/crops_*.png"))) == 2
    assert list(runs[0].glob("files/media/table/results_*.table.json"))
    assert len(list(runs[0].glob("files/media/images/psnr_gain_*.png"))) == 1
    report = (tmp_path / "report.md").read_text()
    assert "![PSNR gain per image](psnr_gain.png)" in report and "| chelsea |" in report
    with Image.open(tmp_path / "psnr_gain.png") as plot:
        assert plot.width >= 400 and plot.height >= 300
    # training curves stay per image, in CSV
    assert (tmp_path / "images" / "chelsea" / "zssr" / "csv" / "metrics.csv").is_file()


def test_run_identity_tells_estimators_by_their_settings_not_their_label(tmp_path):
    from zssr.bench.rundir import identity

    fkp = eval_config(tmp_path, "kernel=estimated", "estimator=kernelgan_fkp")
    assert identity(fkp) != identity(eval_config(tmp_path, "kernel=estimated"))
    renamed = eval_config(tmp_path, "kernel=estimated", "estimator=kernelgan_fkp", "estimator.name=mine")
    assert identity(renamed) == identity(fkp) and evaluation.estimator_name(renamed) == "mine"
    assert evaluation.estimator_name(eval_config(tmp_path, "estimator=kernelgan_fkp")) == ""  # kernel=bicubic


def test_outputs_over_the_limit_are_refused_before_training(tmp_path, small_photo):
    root = tmp_path / "photos"
    root.mkdir()
    (root / "small.png").write_bytes(small_photo.read_bytes())
    cfg = eval_config(tmp_path / "out", "dataset=folder", f"dataset.root={root}", "dataset.has_gt=false", "scale=4",
                      "max_output_pixels=100000")
    with pytest.raises(ZSSRError, match=r"small: the output would be 512x384 .* over max_output_pixels=100000"):
        evaluation.evaluate(cfg)
    assert not (tmp_path / "out" / "images" / "small").exists()


def test_a_sweep_over_a_degradation_setting_is_plotted(tmp_path, monkeypatch):
    """``evaluate.py -m degradation=gaussian_noise degradation.steps.noise.sigma=...``: the aggregate has a column for
    the noise level, PSNR falls as it rises, and the plot of PSNR and SSIM against it is linked from aggregate.md."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from zssr.aggregate import main as aggregate

    sweep = tmp_path / "sweep"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "evaluate.py"), "-m", "degradation=gaussian_noise",
                           "degradation.steps.noise.sigma=0.01,0.05,0.03", "methods=[bicubic]",
                           "dataset.samples=[chelsea]", "threads=1", f"hydra.sweep.dir={sweep}"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    monkeypatch.setenv("WANDB_MODE", "offline")  # the W&B run of --wandb never needs an account
    assert aggregate([str(sweep), "--per-image", "--wandb"]) == 0
    entries = json.loads((sweep / "aggregate.json").read_text())
    assert [e["degradation.steps.noise.sigma"] for e in entries] == ["0.01", "0.03", "0.05"]
    psnr = [e["psnr"] for e in entries]
    assert psnr[0] > psnr[1] + 1 > psnr[2] + 2  # chelsea: 34.9, 33.0, 30.7 dB
    md = (sweep / "aggregate.md").read_text()
    assert "| degradation.steps.noise.sigma |" in md and "(aggregate_degradation.steps.noise.sigma.png)" in md
    plot = Image.open(sweep / "aggregate_degradation.steps.noise.sigma.png")
    assert plot.size == (1000, 400)
    assert "sigma=0.05" in (sweep / "per_image.md").read_text()
    assert list((sweep / "wandb").glob("offline-run-*/run-*.wandb"))


def test_the_committed_noise_sweeps_aggregate_with_the_preset_as_a_column(tmp_path):
    """Two sweeps of the noise level, one with experiment=real: what differs between their jobs becomes a column, so
    their rows stay apart (the table in docs/degradations.md)."""
    from pathlib import Path

    from zssr.aggregate import main as aggregate

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "degradations"
    assert aggregate([str(results / "set5_gaussian_noise_sigma"), str(results / "set5_gaussian_noise_sigma_real"),
                      "--out", str(tmp_path)]) == 0
    entries = json.loads((tmp_path / "aggregate.json").read_text())
    zssr = {(e["degradation.steps.noise.sigma"], e["experiment"]): round(e["psnr"], 2) for e in entries
            if e["method"] == "zssr"}
    assert zssr == {("0.01", ""): 35.68, ("0.03", ""): 31.27, ("0.05", ""): 27.87,
                    ("0.01", "real"): 35.94, ("0.03", "real"): 33.17, ("0.05", "real"): 30.09}
    assert all(e["n_images"] == 5 for e in entries)
