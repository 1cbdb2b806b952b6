"""Classical denoising baselines that a trained network must beat (notebook 02).

Every function takes a batch of images (NHWC or NHW, uint8 or float in [0,1]) and returns
a batch of the same shape and dtype. Images in a batch are filtered independently.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _batch(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a batch NHW or NHWC, got shape {x.shape}; "
                         "pass x[None] for a single image")
    return x


def _like(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    if like.dtype == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(like.dtype, copy=False)


def median(x, size: int = 3) -> np.ndarray:
    """``size`` x ``size`` median filter on each channel (reflect borders)."""
    x = _batch(x)
    footprint = (1, size, size) + ((1,) if x.ndim == 4 else ())
    return ndimage.median_filter(x, size=footprint, mode="reflect")


def gaussian(x, sigma: float = 1.0) -> np.ndarray:
    """Gaussian filter of ``sigma`` pixels along height and width of each channel."""
    x = _batch(x)
    sig = (0, sigma, sigma) + ((0,) if x.ndim == 4 else ())
    out = ndimage.gaussian_filter(x.astype(np.float32), sigma=sig, mode="reflect")
    return _like(out, x)


def bm3d_available() -> bool:
    """True when the ``bm3d`` package (Mäkinen, Azzari and Foi's reference) is installed."""
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def estimate_noise_sigma(x) -> np.ndarray:
    """Per-image Gaussian noise sigma in [0,1] units (wavelet MAD, scikit-image)."""
    from skimage.restoration import estimate_sigma

    x = _batch(x)
    unit = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    channel_axis = -1 if unit.ndim == 4 else None
    return np.array([float(np.mean(estimate_sigma(img, channel_axis=channel_axis)))
                     for img in unit])


def bm3d(x, sigma=None) -> np.ndarray:
    """BM3D (Dabov et al. 2007) through the ``bm3d`` package; colour images use its
    opponent-colour variant. ``sigma`` in [0,1] units, one value or one per image; ``None``
    estimates it per image. BM3D assumes additive Gaussian noise: on other noise it is a
    strong general-purpose baseline, not the right model. Slow (seconds per image on a CPU).
    """
    if not bm3d_available():
        raise ImportError("BM3D needs the 'bm3d' package: pip install bm3d")
    import bm3d as _bm3d

    x = _batch(x)
    unit = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    sigmas = estimate_noise_sigma(x) if sigma is None else np.broadcast_to(
        np.asarray(sigma, dtype=np.float64), (len(x),))
    out = np.empty_like(unit)
    for i, img in enumerate(unit):
        s = max(float(sigmas[i]), 1e-3)
        out[i] = _bm3d_one(_bm3d, img, s)
    out = np.clip(out, 0.0, 1.0) if x.dtype == np.uint8 else out
    return _like(out * 255.0, x) if x.dtype == np.uint8 else out.astype(x.dtype)


def _bm3d_one(lib, img: np.ndarray, sigma: float) -> np.ndarray:
    """One HxW or HxWxC image. The colour variant normalises by each opponent channel's
    range, which is zero (NaN output) for a gray image stored as RGB: such images, and any
    colour image the colour variant fails on, are denoised channel by channel."""
    if img.ndim == 2 or img.shape[-1] == 1:
        return np.reshape(lib.bm3d(img, sigma), img.shape)
    if img.shape[-1] == 3 and not (np.all(img[..., 0] == img[..., 1])
                                   and np.all(img[..., 1] == img[..., 2])):
        res = lib.bm3d_rgb(img, sigma)
        if np.all(np.isfinite(res)):
            return res
    if all(np.array_equal(img[..., 0], img[..., c]) for c in range(img.shape[-1])):
        return np.repeat(np.reshape(lib.bm3d(img[..., 0], sigma), img.shape[:2])[..., None],
                         img.shape[-1], axis=-1)
    return np.stack([np.reshape(lib.bm3d(img[..., c], sigma), img.shape[:2])
                     for c in range(img.shape[-1])], axis=-1)


def tune(filter_fn, clean, noisy, values, *, name="sigma"):
    """The value from ``values`` giving ``filter_fn(noisy, value)`` the best mean PSNR against
    ``clean`` (use a validation split, never the test split). Returns (best, {value: psnr})."""
    from helpers.metrics import psnr

    scores = {v: float(psnr(clean, filter_fn(noisy, v)).mean()) for v in values}
    best = max(scores, key=scores.get)
    return best, scores
