import numpy as np
import png
import pytest
import torch
from PIL import Image

from zssr.errors import ZSSRError
from zssr.ops.imageio import load_image, open_input, save_image


def write_png16(path, arr):
    h, w = arr.shape[:2]
    planes = 1 if arr.ndim == 2 else arr.shape[2]
    writer = png.Writer(w, h, greyscale=planes in (1, 2), alpha=planes in (2, 4), bitdepth=16)
    with open(path, "wb") as fh:
        writer.write(fh, arr.reshape(h, -1))


@pytest.mark.parametrize("mode,gray,alpha", [("RGB", False, False), ("L", True, False), ("RGBA", False, True),
                                             ("LA", True, True)])
def test_8bit_layouts_roundtrip(tmp_path, mode, gray, alpha):
    rng = np.random.default_rng(0)
    shape = (9, 13) if mode == "L" else (9, 13, len(mode))
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(arr, mode=mode).save(tmp_path / "in.png")
    img = load_image(tmp_path / "in.png")
    assert img.rgb.shape == (3, 9, 13) and img.gray == gray and (img.alpha is not None) == alpha and img.bits == 8
    save_image(tmp_path / "out.png", img.rgb, img, img.alpha)
    out = Image.open(tmp_path / "out.png")
    assert out.mode == mode
    assert np.array_equal(np.asarray(out), arr)


@pytest.mark.parametrize("planes", [1, 3, 4])
def test_16bit_png_keeps_full_precision(tmp_path, planes):
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 65536, (7, 11, planes), dtype=np.uint16)
    write_png16(tmp_path / "in.png", arr if planes > 1 else arr[..., 0])
    img = load_image(tmp_path / "in.png")
    assert img.bits == 16 and img.gray == (planes == 1)
    assert torch.allclose(img.rgb[0], torch.from_numpy(arr[..., 0].astype(np.float32)) / 65535)
    save_image(tmp_path / "out.png", img.rgb, img, img.alpha)
    back = load_image(tmp_path / "out.png")
    assert back.bits == 16 and torch.equal(back.rgb, img.rgb)


def test_palette_becomes_rgb_and_exif_rotation_is_applied(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, (10, 20, 3), dtype=np.uint8)
    Image.fromarray(arr).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.rgb.shape == (3, 10, 20) and not img.gray
    jpg = Image.fromarray(arr)
    exif = jpg.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    jpg.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "r.jpg").rgb.shape == (3, 20, 10)


def test_bad_files_give_one_clear_error(tmp_path):
    with pytest.raises(ZSSRError, match="not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ZSSRError, match="cannot read image"):
        load_image(tmp_path / "text.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ZSSRError, match="cannot read image"):
        load_image(tmp_path / "cut.png")
    with pytest.raises(ZSSRError, match="unknown scikit-image sample"):
        open_input("skimage:nothing")


def test_bundled_sample_needs_no_download():
    img = open_input("skimage:chelsea")
    assert img.rgb.shape == (3, 300, 451) and img.name == "chelsea"


def test_a_folder_or_a_missing_file_is_named_as_such(tmp_path):
    with pytest.raises(ZSSRError, match="is a folder, not an image"):
        load_image(tmp_path)
    with pytest.raises(ZSSRError, match="input image not found"):
        load_image(tmp_path / "nope.png")
