import numpy as np
import pytest
import scipy.io
import scipy.ndimage
import torch

from zssr.errors import ZSSRError
from zssr.ops.imageio import load_image
from zssr.ops.kernels import load_kernel, save_kernel, validate_kernel
from zssr.ops.metrics import psnr
from zssr.ops.resize import downscale

from conftest import DATA_DIR, EXAMPLES, needs_data

KERNEL_DIR = EXAMPLES / "kernel_example"


@needs_data
def test_son_maker_reproduces_lr_made_with_the_known_kernel():
    """The kernel example's LR was made by blurring BSD100 97033 with its kernel and subsampling: our down-model,
    fed the HR and the kernel file, must reproduce it (the 2018 code under Python 3 is half a pixel off here)."""
    kernel = torch.as_tensor(load_kernel(KERNEL_DIR / "BSD100_100_lr_rand_ker_c_X2_0.mat"), dtype=torch.float64)
    hr = load_image(DATA_DIR / "bsd100/HR/97033.png").rgb.double()[:, :320, :480]
    lr = load_image(KERNEL_DIR / "BSD100_100_lr_rand_ker_c_X2.png").rgb.double()
    son = downscale(hr, 2, kernel)
    assert son.shape == lr.shape
    assert psnr(son, lr, y_channel=False) > 50
    # the kernel moved by half a pixel (the 2018 code's centring under Python 3) is far off
    shifted = torch.as_tensor(scipy.ndimage.shift(kernel.numpy(), (0.5, 0.5)))
    assert psnr(downscale(hr, 2, shifted), lr, y_channel=False) < 35


@pytest.mark.parametrize("bad,message", [
    (np.ones((3, 3, 3)), "2-D"),
    (np.array([[np.nan, 1], [1, 1]]), "NaN"),
    (np.zeros((5, 5)), "positive mass"),
    (np.array([[1.0, -1.0], [0.5, 0.5]]), "negative weight"),
    (np.ones((100, 100)), "outside"),
])
def test_malformed_kernels_are_rejected(bad, message):
    with pytest.raises(ZSSRError, match=message):
        validate_kernel(bad)


def test_kernel_files_roundtrip_and_normalise(tmp_path):
    k = np.random.default_rng(0).random((7, 9))
    npy, mat = save_kernel(k, tmp_path / "k")
    np.testing.assert_allclose(load_kernel(npy), k / k.sum())
    np.testing.assert_allclose(load_kernel(mat), k / k.sum())
    scipy.io.savemat(str(tmp_path / "other.mat"), {"a": k, "b": k})
    with pytest.raises(ZSSRError, match="no variable 'Kernel'"):
        load_kernel(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    with pytest.raises(ZSSRError, match="cannot read kernel"):
        load_kernel(tmp_path / "junk.mat")
    with pytest.raises(ZSSRError, match="not found"):
        load_kernel(tmp_path / "missing.npy")
    (tmp_path / "k.txt").write_text("1")
    with pytest.raises(ZSSRError, match="unsupported"):
        load_kernel(tmp_path / "k.txt")


@needs_data
def test_shipped_estimated_kernel_with_small_negative_lobes_loads():
    k = load_kernel(EXAMPLES / "real_example" / "charlie_0.mat")
    assert k.shape == (9, 9) and k.min() < 0 and abs(k.sum() - 1) < 1e-12
