"""The compute path: the precision and memory formats chosen for a machine follow the measured rule, explicit
settings win, and bad values are refused in one line."""

import json
import os
import subprocess
import sys

import pytest
import torch

import zssr.ops.compute as compute
from zssr.api import compose_config
from zssr.errors import ZSSRError
from zssr.run.settings import check_settings

AVX2 = {"avx2": True, "avx512": False, "avx512_bf16": False, "amx": False}
AVX512 = {"avx2": True, "avx512": True, "avx512_bf16": False, "amx": False}
AVX512_BF16 = {"avx2": True, "avx512": True, "avx512_bf16": True, "amx": False}


@pytest.mark.parametrize("flags, precision, train_nhwc", [(AVX2, "32-true", False), (AVX512, "32-true", True),
                                                          (AVX512_BF16, "bf16-mixed", True)])
def test_the_rule_per_cpu_class(monkeypatch, flags, precision, train_nhwc):
    monkeypatch.setattr(compute, "cpu_flags", lambda: flags)
    path = compute.choose_compute("auto", "auto", "cpu")
    assert (path.precision, path.channels_last, path.inference_channels_last) == (precision, train_nhwc, True)
    assert path.to_dict()["cpu_flags"] == flags and path.reason


@pytest.mark.parametrize("capability", ["avx2", "default"])
def test_torch_held_to_a_narrower_isa_takes_that_class_path(capability):
    """``ATEN_CPU_CAPABILITY`` (read when torch loads) holds torch's kernels back; the rule then follows what torch
    may use, not the hardware: the AVX2 class's path, fp32 and NCHW."""
    code = ("import json, zssr.ops.compute as c; p = c.choose_compute('auto', 'auto', 'cpu'); "
            "print(json.dumps([c.cpu_flags(), p.precision, p.channels_last]))")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    flags, precision, nhwc = json.loads(out.splitlines()[-1])
    avx2 = capability == "avx2" and torch.cpu._is_avx2_supported()
    assert flags == {"avx2": avx2, "avx512": False, "avx512_bf16": False, "amx": False}
    assert (precision, nhwc) == ("32-true", False)


def test_explicit_settings_win(monkeypatch):
    monkeypatch.setattr(compute, "cpu_flags", lambda: AVX2)
    path = compute.choose_compute("bf16", True, "cpu", inference_channels_last=False)
    assert (path.precision, path.channels_last, path.inference_channels_last) == ("bf16-mixed", True, False)
    assert compute.choose_compute("fp32", "auto", "cpu").channels_last is False
    assert compute.choose_compute("bf16", "auto", "cpu").channels_last is True  # autocast wants NHWC


@pytest.mark.parametrize("key", ["model.channels_last", "inference.channels_last"])
def test_bad_layout_settings_are_one_line(key):
    with pytest.raises(ZSSRError, match=f"{key} must be one of auto, True, False, got 'maybe'"):
        check_settings(compose_config([f"{key}=maybe"]))
