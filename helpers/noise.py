"""Vectorised, seeded noise models for image batches (notebook 01; used by 02, 03, 04, 05).

Every function takes a batch ``x`` in NHWC layout (a single HxWxC or HxW image works too),
either ``uint8`` in [0, 255] or floating point in [0, 1], and returns a new array of the
SAME dtype and shape; the input is never modified. Randomness comes from
``np.random.Generator``: ``rng`` is an int seed, a Generator, or None (fresh entropy), so
the same seed always gives the same output.

Conventions (stated once, used everywhere):
- intensities and standard deviations are in [0, 1] units, i.e. relative to the full
  range; on uint8 data the noise is scaled by 255 (``sigma=25/255`` is "sigma 25");
- uint8 results are rounded to the nearest integer and clipped to [0, 255], so a uint8
  result is always clipped; pass float data with ``clip=False`` for unclipped noise.

Sources: the report's salt-and-pepper loop and its blur (``scipy.ndimage.gaussian_filter``
on each HxWxC image), the DnCNN protocol for additive Gaussian noise (Zhang et al., "Beyond
a Gaussian Denoiser", IEEE TIP 2017), and the Poisson shot-noise model (Foi et al.,
"Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data", IEEE
TIP 2008).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["salt_and_pepper", "gaussian_blur", "blur_salt_pepper", "gaussian", "uniform",
           "poisson", "as_generator"]

_CHUNK_PIXELS = 1 << 22  # pixels per chunk for float temporaries (~16 MiB of float32)


def as_generator(rng=None) -> np.random.Generator:
    """``rng`` as a Generator: an int seed, an existing Generator (used as is) or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an int seed, a numpy Generator or None, not {type(rng)}")


def _check(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating):
        return x
    raise TypeError(f"noise functions take uint8 images or float images in [0, 1], not "
                    f"{x.dtype}; convert with x.astype('float32') / 255 or to uint8 first")


def _pixel_shape(x: np.ndarray) -> tuple:
    """Shape of the pixel grid: all axes but the channel axis (HxW images have none)."""
    return x.shape[:-1] if x.ndim >= 3 else x.shape


def _spatial_axes(x: np.ndarray) -> tuple[int, int]:
    if x.ndim < 2:
        raise ValueError(f"expected an image or a batch of images, got shape {x.shape}")
    return (x.ndim - 3, x.ndim - 2) if x.ndim >= 3 else (0, 1)


def _chunks(n: int, per_item: int):
    step = max(1, _CHUNK_PIXELS // max(1, per_item))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _to_uint8(values: np.ndarray, out: np.ndarray) -> None:
    """Round float values in [0, 255] units and store them, clipped, into uint8 ``out``."""
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    out[...] = values


# ---------------------------------------------------------------------------- impulse noise

def _impulse_positions(n: int, p: float, gen: np.random.Generator) -> np.ndarray:
    """Sorted flat indices of the pixels hit by a Bernoulli(p) process over ``n`` pixels.

    Instead of one random draw per pixel, draw the gaps between hits: in an i.i.d.
    Bernoulli(p) sequence they are Geometric(p), so this is the same distribution with
    about ``n * p`` draws instead of ``n``.
    """
    if p >= 1:
        return np.arange(n)
    expected = n * p
    pos = np.cumsum(gen.geometric(p, size=int(expected + 6 * np.sqrt(expected) + 16))) - 1
    while pos[-1] < n - 1:  # rare: the first batch of gaps fell short of the end
        more = np.cumsum(gen.geometric(p, size=int(expected / 4) + 16)) + pos[-1]
        pos = np.concatenate([pos, more])
    return pos[: np.searchsorted(pos, n)]


def salt_and_pepper(x, intensity: float = 35, rng=None) -> np.ndarray:
    """Salt-and-pepper (impulse) noise as in the report, vectorised.

    Each pixel independently turns black (0) with probability ``1/intensity`` and white
    (255, or 1.0 for float data) with probability ``1/intensity``, on ALL channels of that
    pixel; otherwise it is unchanged. With the report's ``intensity=35`` about
    2/35 = 5.7 % of the pixels change. Formally, per pixel, ``y = 0`` with probability
    ``1/intensity``, ``y = max`` with probability ``1/intensity``, ``y = x`` otherwise.

    Source: the report's per-pixel double loop (``random.randrange(intensity)`` per pixel,
    0 -> black, 1 -> white), which this reproduces in distribution. The hit pixels are
    drawn as geometric gaps (see ``_impulse_positions``), then black or white with
    probability 1/2 each, so only about 6 % of the pixels cost a random draw.
    """
    x = _check(x)
    if intensity < 2:
        raise ValueError(f"intensity must be >= 2 (probability 1/intensity each), not {intensity}")
    gen = as_generator(rng)
    channels = x.shape[-1] if x.ndim >= 3 else 1
    n_pixels = x.size // channels
    hits = _impulse_positions(n_pixels, 2.0 / intensity, gen)
    white = gen.random(len(hits)) < 0.5
    out = np.array(x, copy=True, order="C")
    flat = out.reshape(n_pixels, channels)
    flat[hits[~white]] = 0
    flat[hits[white]] = 255 if x.dtype == np.uint8 else 1
    return out


# ---------------------------------------------------------------------------- blur

def _blur_matrix(n: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The n x n matrix of a 1-D Gaussian filter with scipy.ndimage's ``reflect`` borders.

    Same weights as ``scipy.ndimage.gaussian_filter1d`` (radius ``int(truncate*sigma+0.5)``,
    normalised to sum 1), edges mirrored as ``d c b a | a b c d | d c b a``.
    """
    if sigma <= 0:
        return np.eye(n)
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (taps / sigma) ** 2)
    weights /= weights.sum()
    rows = np.repeat(np.arange(n), len(taps))
    cols = (np.arange(n)[:, None] + taps[None, :]).ravel()
    period = 2 * n
    cols = np.mod(cols, period)
    cols = np.where(cols >= n, period - 1 - cols, cols)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (rows, cols), np.tile(weights, n))
    return matrix


def _one_blas_thread():
    """Small matrix products are fastest on one BLAS thread (and oversubscribe a busy CPU)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def gaussian_blur(x, sigma: float = 1.0, across_channels: bool = False) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels, applied to each image.

    ``y = G_sigma * x``: a separable Gaussian kernel with the weights and ``reflect``
    borders of ``scipy.ndimage.gaussian_filter`` (truncated at 4 sigma). By default it blurs
    only along height and width, each colour channel on its own, so a constant-colour
    image is unchanged.

    ``across_channels=True`` reproduces the report, which called
    ``gaussian_filter(image, sigma)`` on each HxWxC array: the kernel then also runs along
    the 3-long channel axis and mixes red, green and blue (colours bleed towards grey).
    Images in a batch are never mixed. uint8 results are rounded, not truncated.

    Implementation: each 1-D filter is an HxH (or WxW) banded matrix, so a cache-sized
    chunk of images is blurred with two matrix products in float32 (about twice as fast as
    scipy's line filters on uint8 batches, and rounded correctly). Images wider than 256
    pixels go through scipy.
    """
    x = _check(x)
    single = x.ndim in (2, 3)
    batch = x[None] if single else x
    if batch.ndim == 3:  # grayscale HxW images: add a channel axis
        batch = batch[..., None]
    if batch.ndim != 4:
        raise ValueError(f"expected NHWC, HWC or HW images, got shape {x.shape}")
    n, h, w, c = batch.shape
    mix = across_channels and x.ndim >= 3 and c > 1
    work = np.float64 if batch.dtype == np.float64 else np.float32
    out = np.empty_like(batch)
    if max(h, w) > 256:  # the filter matrices would be large: use scipy's line filters
        sig = (0, sigma, sigma, sigma if mix else 0)
        for sl in _chunks(n, h * w * c):
            res = ndimage.gaussian_filter(batch[sl].astype(work), sig, mode="reflect")
            _store(res, out[sl])
        return out.reshape(x.shape)
    rows = _blur_matrix(h, sigma).astype(work)
    cols_t = np.ascontiguousarray(_blur_matrix(w, sigma).T.astype(work))
    channel_matrix = _blur_matrix(c, sigma).astype(work) if mix else None
    step = max(1, (1 << 18) // (h * w * c))  # ~1 MiB of float32 per chunk: stays in cache
    with _one_blas_thread():
        for start in range(0, n, step):
            sl = slice(start, min(n, start + step))
            planes = batch[sl].transpose(0, 3, 1, 2).astype(work)  # (B, C, H, W)
            res = np.matmul(rows, planes)  # along H
            res = (res.reshape(-1, w) @ cols_t).reshape(planes.shape)  # along W
            if channel_matrix is not None:  # along the colour axis (the report's blur)
                res = np.einsum("kc,bchw->bkhw", channel_matrix, res, optimize=False)
            _store(res.transpose(0, 2, 3, 1), out[sl])
    return out.reshape(x.shape)


def _store(values: np.ndarray, out: np.ndarray) -> None:
    if out.dtype == np.uint8:
        np.rint(values, out=values)
        np.clip(values, 0, 255, out=values)
    out[...] = values


def blur_salt_pepper(x, sigma: float = 1.0, intensity: float = 35, rng=None, *,
                     across_channels: bool = False) -> np.ndarray:
    """The report's composite noise: Gaussian blur (``sigma``), then salt and pepper.

    ``y = SP_intensity(G_sigma * x)``. The kit blurs spatially by default; pass
    ``across_channels=True`` for the report's exact blur (see :func:`gaussian_blur`).
    This is the noise of notebooks 02 and 03's stored test sets.
    """
    blurred = gaussian_blur(x, sigma, across_channels=across_channels)
    return salt_and_pepper(blurred, intensity, rng)


# ---------------------------------------------------------------------------- additive noise

def _additive(x: np.ndarray, draw, clip: bool) -> np.ndarray:
    """``x + n`` with ``n = draw(shape)`` float32 in [0,1] units, chunk by chunk."""
    if x.dtype == np.uint8:
        if not clip:
            raise ValueError("uint8 images cannot hold unclipped noise; pass float images "
                             "in [0, 1] (x.astype('float32') / 255) with clip=False")
        out = np.empty_like(x)
        if x.ndim < 4:
            _to_uint8(x.astype(np.float32) + draw(x.shape) * np.float32(255), out)
            return out
        per_image = int(np.prod(x.shape[1:]))
        for sl in _chunks(len(x), per_image):
            chunk = x[sl].astype(np.float32)
            chunk += draw(chunk.shape) * np.float32(255)
            _to_uint8(chunk, out[sl])
        return out
    out = x + draw(x.shape).astype(x.dtype, copy=False)
    if clip:
        np.clip(out, 0, 1, out=out)
    return out


def gaussian(x, sigma: float, *, clip: bool = True, rng=None) -> np.ndarray:
    """Additive white Gaussian noise: ``y = x + sigma * n``, ``n ~ N(0, 1)`` per value.

    ``sigma`` is in [0, 1] units (DnCNN's "sigma 25" is ``sigma=25/255``). Noise is drawn
    independently for every pixel and channel. ``clip=True`` clips to [0, 1] (always for
    uint8); the DnCNN benchmark protocol (Zhang et al. 2017) uses float data and
    ``clip=False``, which keeps the noise exactly zero-mean with standard deviation sigma.
    """
    x = _check(x)
    gen = as_generator(rng)
    return _additive(x, lambda s: gen.standard_normal(s, dtype=np.float32) * np.float32(sigma),
                     clip)


def uniform(x, p: float, *, clip: bool = True, rng=None) -> np.ndarray:
    """Uniform noise of intensity ``p``: ``y = clip(x + u, 0, 1)``, ``u ~ U(-p, p)`` per value.

    The kit's definition, shared by notebooks 01 and 04 (the MNIST autoencoder's robustness
    test at P = 0.05 ... 0.4): independent zero-mean uniform noise on every pixel and
    channel, of half-width ``p`` in [0, 1] units, so its standard deviation before clipping
    is ``p / sqrt(3)`` (Gaussian noise with ``sigma = p / sqrt(3)`` has the same power).
    """
    x = _check(x)
    if p < 0:
        raise ValueError(f"p must be >= 0, not {p}")
    gen = as_generator(rng)
    lo, width = np.float32(-p), np.float32(2 * p)
    return _additive(x, lambda s: gen.random(s, dtype=np.float32) * width + lo, clip)


def poisson(x, peak: float, rng=None, *, clip: bool = True) -> np.ndarray:
    """Poisson (shot) noise: ``y = Poisson(peak * x) / peak``.

    ``peak`` is the photon count of a white pixel: the noise is signal-dependent, with
    mean ``x`` and variance ``x / peak``, so a smaller peak is noisier (peak 10 is very
    noisy, peak 1000 mild). The model of photon-limited sensors (Foi et al. 2008). Float
    results above 1 are clipped unless ``clip=False``; uint8 results are always clipped.
    """
    x = _check(x)
    if peak <= 0:
        raise ValueError(f"peak must be > 0, not {peak}")
    gen = as_generator(rng)
    scale = np.float32(1 / 255) if x.dtype == np.uint8 else np.float32(1)
    if x.dtype == np.uint8 and not clip:
        raise ValueError("uint8 images cannot hold unclipped noise; pass float images")

    def noisy(block: np.ndarray) -> np.ndarray:
        lam = np.clip(block.astype(np.float32) * scale, 0, None) * np.float32(peak)
        return (gen.poisson(lam) / peak).astype(np.float32)

    if x.dtype != np.uint8:
        out = noisy(x).astype(x.dtype)
        return np.clip(out, 0, 1, out=out) if clip else out
    out = np.empty_like(x)
    if x.ndim < 4:
        _to_uint8(noisy(x) * np.float32(255), out)
        return out
    per_image = int(np.prod(x.shape[1:]))
    for sl in _chunks(len(x), per_image):
        _to_uint8(noisy(x[sl]) * np.float32(255), out[sl])
    return out
