"""The compute path: the precision and memory formats chosen for a machine follow the measured rule, explicit
settings win, and bad values are refused in one line."""

import pytest

import zssr.compute as compute
from zssr.api import compose_config
from zssr.errors import ZSSRError
from zssr.settings import check_settings

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
