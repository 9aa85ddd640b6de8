"""Hydra callbacks: fail early, in one line, when the run or sweep directory cannot be created."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


def _check_creatable(path: Path) -> str | None:
    """Why ``path`` cannot be made into a writable directory, or None when it can."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return "no existing parent directory"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    try:
        Path(tempfile.mkdtemp(dir=probe)).rmdir()
    except OSError as exc:
        return f"cannot create directories in {probe}: {exc.strerror or exc}"
    return None


class CheckOutputDir(Callback):
    """Hydra would otherwise print a traceback when it fails to create the output directory."""

    def _check(self, config: DictConfig, key: str) -> None:
        try:
            path = Path(str(OmegaConf.select(config, key)))
        except Exception:  # an unresolvable path is Hydra's to report
            return
        reason = _check_creatable(path)
        if reason:
            print(f"error: output directory {path} cannot be used: {reason}", file=sys.stderr)
            sys.exit(1)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")
