"""The CUDA path. Skipped where there is no GPU (CI has none); on a GPU machine: ``pytest tests/test_cuda.py``."""

import pytest
import torch

from zssr.api import compose_config
from zssr.method.inference import super_resolve
from zssr.method.net import ZSSRNet
from zssr.run.pipeline import train

from conftest import EXAMPLES, needs_data, tiny_overrides

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.fixture
def exact_fp32():
    """cuDNN's TF32 convolutions off, so a GPU result can be compared with the CPU's at fp32 precision."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.mark.parametrize("batch", [False, True])
def test_gpu_inference_equals_cpu_inference(exact_fp32, batch):
    """The ensemble, tiling and back-projection with a non-bicubic kernel give the CPU's output on the GPU."""
    torch.manual_seed(0)
    net = ZSSRNet(depth=3, width=8).eval()
    lr = torch.rand(3, 21, 34)
    g = torch.exp(-0.5 * (torch.arange(9.0) - 4.5) ** 2 / 1.5)
    kernel = torch.outer(g, g) / torch.outer(g, g).sum()
    cpu = super_resolve(net, lr, 2, kernel, back_projection_iters=3, tile=24, batch_variants=batch)
    gpu = super_resolve(net.cuda(), lr, 2, kernel, back_projection_iters=3, tile=24, batch_variants=batch)
    assert gpu.shape == cpu.shape == (3, 42, 68)
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)


@needs_data
def test_training_on_the_gpu_beats_bicubic(tmp_path):
    """The shortened real run of test_pipeline, on the GPU with the precision and layout chosen for it."""
    bsd = EXAMPLES / "example_with_gt"
    cfg = compose_config([*tiny_overrides(400), f"input={bsd / 'bsd_001.png'}", f"gt={bsd / 'bsd_001_gt.png'}",
                          "inference.back_projection_iters=4", "data.crop_size=64", "trainer.accelerator=gpu"],
                         output_dir=tmp_path)
    result = train(cfg)
    assert result["device"].startswith("cuda"), result["device"]
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    assert result["compute"]["precision"] == expected and result["compute"]["channels_last"]
    assert result["psnr"] > result["psnr_bicubic"] + 0.6, result
