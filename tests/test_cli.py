"""train.py as a user runs it: bad input gives one clear line and a non-zero exit, never a traceback."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["trainer.max_steps=3", "logger=none", "trainer.enable_progress_bar=false"]


def train_py(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args, *QUICK, f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "text.png").write_text("not an image")
    np.save(tmp_path / "zeros.npy", np.zeros((5, 5)))
    np.save(tmp_path / "cube.npy", np.ones((3, 3, 3)))
    np.save(tmp_path / "nan.npy", np.full((3, 3), np.nan))
    return {
        "missing": (["input=missing.png"], "input image not found"),
        "corrupt": ([f"input={tmp_path / 'text.png'}"], "cannot read image"),
        "too small": (["input=skimage:chelsea", "scale=50"], "too small for scale"),
        "bad scale": (["input=skimage:chelsea", "scale=abc"], "scale must be"),
        "zero kernel": (["input=skimage:chelsea", f"kernel={tmp_path / 'zeros.npy'}"], "positive mass"),
        "3-D kernel": (["input=skimage:chelsea", f"kernel={tmp_path / 'cube.npy'}"], "2-D"),
        "NaN kernel": (["input=skimage:chelsea", f"kernel={tmp_path / 'nan.npy'}"], "NaN"),
        "missing gt": (["input=skimage:chelsea", "gt=nope.png"], "input image not found"),
        "bad precision": (["input=skimage:chelsea", "precision=fp8"], "precision must be one of"),
        "bad crop": (["input=skimage:chelsea", "data.crop_size=0"], "data.crop_size must be"),
        "bad tail": (["input=skimage:chelsea", "recipe=zssr2018", "callbacks.lr_policy.tail_steps=0"],
                     "callbacks.lr_policy.tail_steps must be"),
        "policy off": (["input=skimage:chelsea", "callbacks.lr_policy.ratio=2"],
                       "callbacks.lr_policy is off in this recipe (recipe=zssr2018 or first_cut has it)"),
        "bad average": (["input=skimage:chelsea", "recipe=efficient", "callbacks.weight_averaging.decay=1"],
                        "callbacks.weight_averaging.decay must be a number > 0 and < 1"),
        "bad BP list": (["input=skimage:chelsea", "inference.back_projection_iters=[6,-1]"],
                        "back_projection_iters must be integers"),
        "bad net": (["input=skimage:chelsea", "model.net.depth=1"], "depth must be at least 2"),
        "bad estimator": (["input=skimage:chelsea", "kernel=estimated", "estimator=kernelgan",
                           "estimator.max_steps=abc"],
                          "estimator.max_steps must be"),
        "bad son noise": (["input=skimage:chelsea", "kernel=estimated", "kernel_guess.son_noise_std=-1"],
                          "kernel_guess.son_noise_std must be"),
        "bad sharpness limit": (["input=skimage:chelsea", "kernel=estimated", "estimator.sharpness_limit=sharp"],
                                "estimator.sharpness_limit must be"),
        "bad batching": (["input=skimage:chelsea", "inference.batch_variants=maybe"], "batch_variants must be"),
        "bad starts": (["input=skimage:chelsea", "kernel=estimated", "estimator=kernelgan", "estimator.starts=0"],
                       "estimator.starts must be"),
        "huge output": (["input=skimage:chelsea", "scale=4", "max_output_pixels=1000000"],
                        "the output would be 1804x1200 (2 MP) for a 451x300 input at scale 4x4, over max_output"),
        "unquotable": (["input=skimage:chelsea", "gt=a\\'b.png"], "quote it inside the shell's quotes"),
    }


CASES = ["missing", "corrupt", "too small", "bad scale", "zero kernel", "3-D kernel", "NaN kernel", "missing gt",
         "bad precision", "bad crop", "bad tail", "policy off", "bad average", "bad BP list", "bad net",
         "bad estimator", "bad son noise", "bad sharpness limit", "bad batching", "bad starts", "huge output",
         "unquotable"]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, str]]:
    """Every bad-input case through train.py, two at a time: each run is mostly Python start-up on one core."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    cases = bad_inputs(tmp)

    def one(case: str) -> subprocess.CompletedProcess:
        cwd = tmp / case.replace(" ", "_")
        cwd.mkdir()
        return train_py(*cases[case][0], tmp_path=cwd)

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(CASES, pool.map(one, CASES), strict=True))
    return {case: (procs[case], cases[case][1]) for case in CASES}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line(bad_input_runs, case):
    proc, message = bad_input_runs[case]
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr


def test_unusable_output_dir(tmp_path):
    (tmp_path / "afile").write_text("")
    env = {**os.environ, "WANDB_MODE": "offline"}
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "input=skimage:chelsea", *QUICK,
                           f"hydra.run.dir={tmp_path / 'afile' / 'run'}"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: output directory") and len(proc.stderr.strip().splitlines()) == 1


def test_quoting_of_values_hydra_cannot_read_bare():
    from zssr.cli import quote_values

    assert quote_values(["-m", "input=My Photos/IMG 1.png", "scale=2,4", "+kernel=Öl.npy", "gt=it's (2).png"]) == [
        "-m", "input=My Photos/IMG 1.png", "scale=2,4", "+kernel='Öl.npy'", "gt='it\\'s (2).png'"]


def test_tiny_run_succeeds_from_the_command_line(tmp_path, small_photo):
    """...with a path as typed in a shell: a space, brackets and letters outside ASCII."""
    folder = tmp_path / "Meine Fotos (2)"
    folder.mkdir()
    photo = folder / "Öl bild.png"
    photo.write_bytes(small_photo.read_bytes())
    proc = train_py(f"input={photo}", "scale=[2,1.5]", "inference.back_projection_iters=1", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "Öl bild_zssr.png").is_file() and (tmp_path / "run" / "result.json").is_file()
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"][-1]["back_projection_rounds"] == 1


def test_result_records_the_back_projection_rounds_used_with_a_diverging_kernel(tmp_path, small_photo):
    """Given a defocus disk, back-projection keeps only the rounds that do not diverge, and result.json says how many
    it used beside the 10 asked."""
    import torch

    from zssr.degradations import disk_kernel
    from zssr.ops.imageio import open_input, save_image
    from zssr.ops.resize import kernel_downscale

    disk = disk_kernel(3.5, 15, 7.5)
    np.save(tmp_path / "disk.npy", disk)
    photo = open_input(str(small_photo))
    lr = kernel_downscale(photo.rgb, torch.as_tensor(disk, dtype=torch.float32), 2).clamp(0, 1)
    save_image(tmp_path / "blurred.png", lr, photo)
    proc = train_py(f"input={tmp_path / 'blurred.png'}", f"kernel={tmp_path / 'disk.npy'}", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["back_projection_iters"] == [10] and 0 <= result["steps"][-1]["back_projection_rounds"] < 10


def test_evaluate_rejects_bad_zssr_settings_before_any_image(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "kernel=estimated", "estimator=kernelgan",
                           "estimator.crop_size=8",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: estimator.crop_size must be")
    assert not (tmp_path / "run" / "images").exists()


def test_evaluate_missing_dataset_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "dataset=set14", f"paths.data_dir={tmp_path}",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: dataset 'set14'")


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_evaluate_multirun_with_launchers_gives_separate_jobs(tmp_path, launcher):
    """Each job of a sweep gets its own dir and results; the aggregate command merges them."""
    sweep = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "-m", f"hydra/launcher={launcher}",
                           "methods=[bicubic]", "dataset.samples=[chelsea]", "scale=2,3", "threads=1",
                           f"hydra.sweep.dir={sweep}"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.parent.name for p in sweep.rglob("metrics.csv")) == ["0", "1"]
    agg = subprocess.run([sys.executable, "-m", "zssr.aggregate", str(sweep)], capture_output=True, text=True)
    assert agg.returncode == 0 and "| samples | bicubic | bicubic |  | 3 | bicubic | 1 |" in agg.stdout


def test_parallel_joblib_jobs_share_the_cores():
    from zssr.cli import job_threads

    joblib = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 4}
    assert job_threads(None, cpus=16, launcher=joblib) == 4
    assert job_threads(None, cpus=2, launcher={**joblib, "n_jobs": -1}) == 1
    assert job_threads(None, cpus=2, launcher={**joblib, "n_jobs": 8}) == 1
    assert job_threads(3, cpus=16, launcher=joblib) == 3  # an explicit setting wins
    assert job_threads(None, cpus=16, launcher={"_target_": "hydra._internal.core_plugins.basic_launcher"}) is None
    assert job_threads(None) is None  # not under Hydra


def test_scripts_that_compose_a_config_get_its_threads():
    """The benchmarks run ``zssr.run.pipeline.train`` on a composed config, not through an entry point: ``threads=N``
    must still set torch's thread count there."""
    import torch

    from zssr.api import compose_config
    from zssr.cli import apply_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # so that the setting is seen to change it
        assert apply_threads(compose_config(["threads=1"])) == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(2)
        assert apply_threads(compose_config([])) is None and torch.get_num_threads() == 2  # default: left alone
    finally:
        torch.set_num_threads(before)
