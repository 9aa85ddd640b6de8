"""End-to-end runs of the train.py core on small real images with short budgets."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from zssr.api import compose_config
from zssr.errors import ZSSRError
from zssr.ops.imageio import load_image, save_image
from zssr.ops.resize import imresize
from zssr.run.job import explicit_schedule, gradual_schedule
from zssr.run.pipeline import train
from zssr.run.settings import parse_scale

from conftest import EXAMPLES, needs_data, tiny_overrides

BSD = EXAMPLES / "example_with_gt"


def run(tmp_path, *overrides, steps=30):
    cfg = compose_config([*tiny_overrides(steps), *overrides], output_dir=tmp_path)
    return train(cfg)


@pytest.fixture(scope="module")
def small_rgb(tmp_path_factory):
    """A 48x64 crop of bsd_001 (real content) and the x2 ground truth crop."""
    d = tmp_path_factory.mktemp("imgs")
    lr, gt = load_image(BSD / "bsd_001.png"), load_image(BSD / "bsd_001_gt.png")
    save_image(d / "lr.png", lr.rgb[:, 40:88, 30:94], lr)
    save_image(d / "gt.png", gt.rgb[:, 80:176, 60:188], gt)
    return d / "lr.png", d / "gt.png"


def test_scale_parsing_and_gradual_schedule():
    assert parse_scale(2) == (2.0, 2.0) and parse_scale([2, 3]) == (2.0, 3.0) and parse_scale("2.5") == (2.5, 2.5)
    for bad in ["abc", 0.5, [1, 1], [2, 3, 4], float("nan")]:
        with pytest.raises(ZSSRError):
            parse_scale(bad)
    assert gradual_schedule((2, 2), 2) == [(1, 1.5), (1.5, 1), (1.5, 1.5), (1.5, 2), (2, 1.5), (2, 2)]
    assert gradual_schedule((4, 4), 0) == [(4, 4)]
    assert explicit_schedule([1.5], (2, 2)) == [(1.5, 1.5), (2, 2)]
    assert explicit_schedule([[1, 1.5], 1.5, [1.5, 2]], (2, 2)) == [(1, 1.5), (1.5, 1.5), (1.5, 2), (2, 2)]
    for bad in [[2], [2.5], [1.5, 1.2], [1.5, 1.5], ["x"], [[1, 1]]]:
        with pytest.raises(ZSSRError, match="gradual_steps must be"):
            explicit_schedule(bad, (2, 2))


@needs_data
def test_default_run_writes_image_and_result(tmp_path, small_rgb):
    lr, gt = small_rgb
    result = run(tmp_path, f"input={lr}", f"gt={gt}")
    out = Image.open(tmp_path / "lr_zssr.png")
    assert out.size == (128, 96) and out.mode == "RGB"
    saved = json.loads((tmp_path / "result.json").read_text())
    for key in ["output", "scale", "iterations", "seconds", "final_lr", "psnr", "ssim", "psnr_bicubic",
                "ssim_bicubic", "plan", "compute"]:
        assert key in saved
    assert saved["iterations"] == 30 and saved["scale"] == [2.0, 2.0] and saved == result
    assert saved["final_lr"] == pytest.approx(1e-3)
    assert saved["plan"]["mode"] == "bicubic" and saved["compute"]["precision"] == saved["precision"]


@needs_data
@pytest.mark.slow  # the default recipe's test below checks the same gain on the same image
def test_zssr_beats_bicubic_on_a_real_image(tmp_path):
    """A shortened but real run on bsd_001 (x2; 64-pixel crops, the 2018 code's config without its callbacks): the
    self-supervised net must clearly beat bicubic."""
    result = run(tmp_path, f"input={BSD / 'bsd_001.png'}", f"gt={BSD / 'bsd_001_gt.png'}",
                 "inference.back_projection_iters=4", "data.crop_size=64", steps=400)
    assert result["psnr"] > result["psnr_bicubic"] + 0.6, result


@needs_data
def test_the_default_recipe_trains_64_pixel_crops_at_one_rate_and_beats_bicubic(tmp_path):
    """The default recipe (``efficient``) cut to 400 steps on bsd_001 x2: no learning-rate cuts and no early stop,
    one 64-pixel crop a step (all of bsd_001's fathers are larger) but for the last 150 steps, which take up to
    128-pixel crops (the smallest fathers are smaller; the switch may come a prefetched batch late), and a clear gain
    over bicubic."""
    result = run(tmp_path, f"input={BSD / 'bsd_001.png'}", f"gt={BSD / 'bsd_001_gt.png'}", "recipe=efficient",
                 "inference.back_projection_iters=4", steps=400)
    assert result["iterations"] == 400 and result["final_lr"] == pytest.approx(1e-3)
    assert result["steps"][0]["lr_changes"] == []
    pixels = result["steps"][0]["train_pixels"]
    assert 252 * 64**2 + 148 * 80 * 120 <= pixels <= 250 * 64**2 + 150 * 128**2, pixels
    assert result["psnr"] > result["psnr_bicubic"] + 0.6, result


@needs_data
def test_seeded_runs_are_reproducible(tmp_path, small_rgb):
    lr, _ = small_rgb
    a = run(tmp_path / "a", f"input={lr}", "seed=7", steps=20)
    b = run(tmp_path / "b", f"input={lr}", "seed=7", steps=20)
    c = run(tmp_path / "c", f"input={lr}", "seed=8", steps=20)
    img = [np.asarray(Image.open(r["output"])) for r in (a, b, c)]
    assert np.array_equal(img[0], img[1])
    assert not np.array_equal(img[0], img[2])


@needs_data
# 1.333333: ceil(64 / 1.333333) is 49, not the input's 48; back-projection must land on the input's size
@pytest.mark.parametrize("scale,size", [("2.5", (160, 120)), ("[2,3]", (192, 96)), ("1.333333", (86, 64))])
def test_non_integer_and_anisotropic_scales(tmp_path, small_rgb, scale, size):
    lr, _ = small_rgb
    result = run(tmp_path, f"input={lr}", f"scale={scale}", steps=10)
    assert Image.open(result["output"]).size == size


@needs_data
def test_gradual_runs_every_step_and_adds_fathers(tmp_path, small_rgb):
    lr, gt = small_rgb
    result = run(tmp_path, f"input={lr}", f"gt={gt}", "experiment=gradual", steps=10)
    assert [s["scale"] for s in result["steps"]] == [[1, 1.5], [1.5, 1], [1.5, 1.5], [1.5, 2], [2, 1.5], [2, 2]]
    assert result["iterations"] == 60
    assert len(list(tmp_path.glob("lr_step*.png"))) == 5
    assert Image.open(result["output"]).size == (128, 96)


@needs_data
def test_explicit_gradual_steps(tmp_path, small_rgb):
    lr, _ = small_rgb
    result = run(tmp_path, f"input={lr}", "gradual_steps=[1.5]", "inference.back_projection_iters=[4,6]", steps=10)
    assert [s["scale"] for s in result["steps"]] == [[1.5, 1.5], [2, 2]]
    assert [s["back_projection_rounds"] for s in result["steps"]] == [4, 6]
    assert Image.open(tmp_path / "lr_step1.png").size == (96, 72)
    assert Image.open(result["output"]).size == (128, 96)


@needs_data
def test_given_kernel_run(tmp_path):
    lr = EXAMPLES / "kernel_example/BSD100_100_lr_rand_ker_c_X2.png"
    result = run(tmp_path, f"input={lr}", f"kernel={lr.with_name(lr.stem + '_0.mat')}", "experiment=given_kernel",
                 steps=10)
    assert result["kernel"].endswith("_0.mat") and Image.open(result["output"]).size == (480, 320)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_layouts_end_to_end(tmp_path, mode):
    yy, xx = np.mgrid[0:40, 0:48]
    base = np.stack([(np.sin(yy / 5) * 120 + 128), (np.cos(xx / 7) * 120 + 128), (yy + xx) * 2.5], -1)
    base = base.clip(0, 255).astype(np.uint8)
    if mode == "L":
        im = Image.fromarray(base[..., 0], "L")
    elif mode == "RGBA":
        im = Image.fromarray(np.dstack([base, np.full((40, 48), 200, np.uint8)]), "RGBA")
    else:
        im = Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    im.save(tmp_path / "in.png")
    result = run(tmp_path, f"input={tmp_path / 'in.png'}", steps=5)
    out = Image.open(result["output"])
    assert out.size == (96, 80)
    assert out.mode == {"L": "L", "RGBA": "RGBA", "P": "RGB"}[mode]
    if mode == "RGBA":
        assert np.abs(np.asarray(out)[..., 3].astype(int) - 200).max() <= 1


def test_16bit_input_gives_16bit_output(tmp_path):
    from test_imageio import write_png16

    yy, xx = np.mgrid[0:40, 0:40]
    arr = ((np.sin(yy / 4) * np.cos(xx / 6) + 1) * 30000).astype(np.uint16)
    write_png16(tmp_path / "in16.png", np.dstack([arr, arr // 2, arr // 3]))
    result = run(tmp_path, f"input={tmp_path / 'in16.png'}", steps=5)
    out = load_image(result["output"])
    assert out.bits == 16 and out.rgb.shape == (3, 80, 80)
    # 16-bit precision survives: values are not multiples of 257 (8-bit values scaled up)
    raw = (out.rgb * 65535).round().to(torch.int64)
    assert (raw % 257 != 0).float().mean() > 0.5


@needs_data
def test_gt_size_protocol(tmp_path, small_rgb):
    lr, gt = small_rgb
    big = load_image(gt)
    save_image(tmp_path / "gt_plus1.png", torch.nn.functional.pad(big.rgb, (0, 1, 0, 1)), big)
    result = run(tmp_path, f"input={lr}", f"gt={tmp_path / 'gt_plus1.png'}", steps=5)
    assert result["gt_cropped"] is True
    save_image(tmp_path / "gt_small.png", imresize(big.rgb, 0.5), big)
    with pytest.raises(ZSSRError, match="ground truth is"):
        run(tmp_path, f"input={lr}", f"gt={tmp_path / 'gt_small.png'}", steps=5)
