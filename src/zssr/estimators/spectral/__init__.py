"""``estimator=spectral``: a kernel from the LR image's spectrum alone. :mod:`.fit` has the fits (a Gaussian's
covariance, a width, motion paths and defocus disks), :mod:`.estimator` the estimator that chooses among them."""

from zssr.estimators.spectral.estimator import SpectralEstimator
from zssr.estimators.spectral.fit import (
    BinnedSpectrum,
    BlurShape,
    anisotropic_kernel,
    binned_spectrum,
    blur_shapes,
    gaussian_of_axes,
    gaussian_widths,
    spectral_covariance,
    spectral_kernel,
)

__all__ = ["BinnedSpectrum", "BlurShape", "SpectralEstimator", "anisotropic_kernel", "binned_spectrum", "blur_shapes",
           "gaussian_of_axes", "gaussian_widths", "spectral_covariance", "spectral_kernel"]
