"""Every benchmark script (``benchmarks/speed/``: speed and memory; ``benchmarks/calibration/``: how settings were
chosen; ``benchmarks/reproduce/``: the paper's tables) answers ``--help``: it imports with today's code and its
options parse. Run in-process, so it costs the scripts' own imports only."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for folder in ("speed", "calibration", "reproduce") for p in (BENCHMARKS / folder).glob("*.py")
                 if p.name != "bsd100_kernels.py")  # bsd100_kernels: what the calibration scripts share


def test_the_scripts_are_split_by_purpose():
    assert not list(BENCHMARKS.glob("*.py")) and len(SCRIPTS) >= 12


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(script.parent))  # the scripts import their neighbours, as `python <script>` does
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--help" in out
