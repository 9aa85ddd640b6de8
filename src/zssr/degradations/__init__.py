"""How LR benchmark inputs are made from HR images (the paper's Tables 1-3): a degradation is a list of steps (blur,
downscale, noise, compression) composed in ``conf/degradation/``, each seeded per image. :mod:`.steps` has the step
interface and the downscale, noise and compression steps, :mod:`.blur` the blur steps, :mod:`.blur_kernels` their
kernels, :mod:`.chain` the degradation that runs them.

Every degradation returns the LR image rounded to 8 bits (as benchmark files are) and the kernel that made it (None
when no kernel describes it). The HR image is first cropped top-left to a multiple of the scale.
"""

from zssr.degradations.blur import (
    Blur,
    GaussianBlur,
    IsotropicGaussianBlur,
    KernelFile,
    KernelGANBlur,
    MotionDefocusBlur,
)
from zssr.degradations.blur_kernels import (
    delta_kernel,
    disk_kernel,
    gaussian_covariance_kernel,
    gaussian_kernel,
    kernelgan_kernel,
    line_kernel,
    motion_defocus_kernel,
    motion_kernel,
)
from zssr.degradations.chain import Degradation, Degraded, degrade, image_seed, modcrop, preset
from zssr.degradations.steps import (
    JPEG,
    Downscale,
    GaussianNoise,
    OneOf,
    PoissonNoise,
    Sample,
    SpeckleNoise,
    Step,
    add_noise,
    jpeg,
    to_8bit,
)

__all__ = ["JPEG", "Blur", "Degradation", "Degraded", "Downscale", "GaussianBlur", "GaussianNoise",
           "IsotropicGaussianBlur", "KernelFile", "KernelGANBlur", "MotionDefocusBlur", "OneOf", "PoissonNoise",
           "Sample", "SpeckleNoise", "Step", "add_noise", "degrade", "delta_kernel", "disk_kernel",
           "gaussian_covariance_kernel", "gaussian_kernel", "image_seed", "jpeg", "kernelgan_kernel", "line_kernel",
           "modcrop", "motion_defocus_kernel", "motion_kernel", "preset", "to_8bit"]
