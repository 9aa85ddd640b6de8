"""A non-editable install works away from the checkout: every config ships inside the package and the console scripts
run. In the default suite (a wheel, a venv and a 5-step run: about half a minute), so a file the wheel misses fails
``make test``."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_install_runs_zssr_train_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "outputs", "build", "*.egg-info",
                                                                  "__pycache__", "wandb"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(source)], check=True, capture_output=True, text=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    site = next((venv / "lib").glob("python*/site-packages"))
    # the dependencies come from this environment's site-packages (no download, no second torch); the editable
    # checkout of this environment is not on that path, so zssr itself comes only from the wheel
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    *map(str, wheels.glob("zssr-*.whl"))], check=True, capture_output=True, text=True)
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "WANDB_MODE": "offline", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.run([str(bin_dir / "zssr-train"), "input=skimage:chelsea", "trainer.max_steps=5",
                           "trainer.enable_progress_bar=false", "inference.back_projection_iters=1",
                           "hydra.run.dir=run"], cwd=away, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (away / "run" / "chelsea_zssr.png").is_file() and (away / "run" / "result.json").is_file()
    where = subprocess.run([str(bin_dir / "python"), "-c", "import zssr; print(zssr.__file__)"], cwd=away,
                           capture_output=True, text=True, check=True).stdout
    assert str(venv) in where and str(ROOT) not in where
    listing = ("import importlib.resources as r, zssr.conf as c; root = r.files(c); "
               "print('\\n'.join(str(p.relative_to(root)) for p in root.rglob('*.yaml')))")
    shipped = subprocess.run([str(bin_dir / "python"), "-c", listing], cwd=away, capture_output=True, text=True,
                             check=True).stdout.split()
    assert sorted(shipped) == sorted(str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml"))
