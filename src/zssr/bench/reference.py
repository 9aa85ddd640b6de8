"""Published numbers to compare against (PSNR dB / SSIM on Y, shave = scale).

Bicubic and ZSSR: Shocher, Cohen & Irani, "Zero-Shot" Super-Resolution using Deep Internal Learning, CVPR 2018,
Tables 1-3 (bicubic baselines as in the SR literature since SRCNN/VDSR).
"""

from __future__ import annotations

# (dataset, degradation, scale, method) -> (psnr, ssim)
PAPER: dict[tuple[str, str, int, str], tuple[float, float]] = {
    ("set5", "bicubic", 2, "bicubic"): (33.66, 0.9299),
    ("set5", "bicubic", 3, "bicubic"): (30.39, 0.8682),
    ("set5", "bicubic", 4, "bicubic"): (28.42, 0.8104),
    ("set14", "bicubic", 2, "bicubic"): (30.24, 0.8688),
    ("set14", "bicubic", 3, "bicubic"): (27.55, 0.7742),
    ("set14", "bicubic", 4, "bicubic"): (26.00, 0.7027),
    ("bsd100", "bicubic", 2, "bicubic"): (29.56, 0.8431),
    ("bsd100", "bicubic", 3, "bicubic"): (27.21, 0.7385),
    ("bsd100", "bicubic", 4, "bicubic"): (25.96, 0.6675),
    ("set5", "bicubic", 2, "zssr"): (37.37, 0.9570),
    ("set5", "bicubic", 3, "zssr"): (33.42, 0.9188),
    ("set5", "bicubic", 4, "zssr"): (31.13, 0.8796),
    ("set14", "bicubic", 2, "zssr"): (33.00, 0.9108),
    ("set14", "bicubic", 3, "zssr"): (29.80, 0.8304),
    ("set14", "bicubic", 4, "zssr"): (28.01, 0.7651),
    ("bsd100", "bicubic", 2, "zssr"): (31.65, 0.8920),
    ("bsd100", "bicubic", 3, "zssr"): (28.67, 0.7945),
    ("bsd100", "bicubic", 4, "zssr"): (27.12, 0.7211),
    # Table 2: random anisotropic Gaussian kernels; the method key names the kernel ZSSR was given
    ("bsd100", "random_kernel", 2, "zssr/true"): (29.68, 0.8414),
    ("bsd100", "random_kernel", 2, "zssr/estimated"): (28.81, 0.8306),
    # Table 3: one of Gaussian noise, speckle, JPEG per image
    ("bsd100", "unknown", 2, "zssr"): (28.61, 0.7809),
    ("bsd100", "unknown", 2, "bicubic"): (27.92, 0.7504),
}


def paper_value(dataset: str, degradation: str, scale: float, method: str, kernel: str) -> tuple[float, float] | None:
    """The paper's (psnr, ssim) for a result cell, or None where the paper has no such cell."""
    if not float(scale).is_integer():
        return None
    s = int(scale)
    if method == "zssr" and kernel != "bicubic":
        return PAPER.get((dataset, degradation, s, f"zssr/{kernel}"))
    return PAPER.get((dataset, degradation, s, method))
