"""The project's JSON files are strict: numbers that are not finite are written as null, and a result reads back."""

import json
import math

from zssr.run.results import RunResult, StepResult, write_json


def test_non_finite_numbers_become_null(tmp_path):
    write_json(tmp_path / "x.json", {"psnr": math.nan, "rows": [math.inf, 1.5, {"ssim": -math.inf}]})
    text = (tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"psnr": None, "rows": [None, 1.5, {"ssim": None}]}


def test_a_result_reads_back_with_its_types(tmp_path):
    result = RunResult(input="a.png", output="a_zssr.png", scale=[2.0, 2.0], kernel="bicubic", iterations=3,
                       train_flops=1e9, seconds=1.0, train_seconds=0.5, inference_seconds=0.5, final_lr=1e-3,
                       precision="32-true", device="cpu", input_size=[8, 8], output_size=[16, 16],
                       steps=[StepResult([2.0, 2.0], 3, 1e-3, 192)], seed=0, son_noise_std=0.0,
                       back_projection_iters=[10], plan={"mode": "bicubic"}, compute={}, psnr=math.nan)
    result.write(tmp_path / "result.json")
    back = RunResult.read(tmp_path / "result.json")
    assert back.steps == result.steps and back.psnr is None and back.iterations == 3
