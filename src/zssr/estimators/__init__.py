"""Kernel estimators (``kernel=estimated``): the downscaling kernel from the LR image alone.

One interface (:class:`KernelEstimator`, in :mod:`.base`), chosen by ``conf/estimator/<name>.yaml``'s ``_target_``:
:mod:`.spectral` (the default: a fit to the image's spectrum), :mod:`.kernelgan` (an internal GAN, with or without a
learned kernel prior). What they share: :mod:`.guard` (can the image give a kernel; is an estimate too wide) and
:mod:`.figures` (kernel pictures). A new estimator is one module with a :class:`KernelEstimator` subclass and one
YAML naming it (``tests/examples/`` has one).
"""

from zssr.estimators.base import Estimate, KernelEstimator, build_estimator, check_width, estimate_kernel
from zssr.estimators.figures import kernel_figure
from zssr.estimators.guard import kernel_passband, sharpness_ratio, unusable

__all__ = ["Estimate", "KernelEstimator", "build_estimator", "check_width", "estimate_kernel", "kernel_figure",
           "kernel_passband", "sharpness_ratio", "unusable"]
