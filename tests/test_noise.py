"""Statistics and contracts of helpers.noise (the noise models of notebook 01)."""

import numpy as np
import pytest
from scipy import ndimage

from helpers import noise


def photos(n=40, size=32, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return x if dtype == np.uint8 else x.astype(dtype) / 255


# ---------------------------------------------------------------------------- salt and pepper

def test_salt_and_pepper_changes_about_two_in_35_pixels_on_all_channels():
    x = np.full((200, 32, 32, 3), 128, np.uint8)  # mid-grey: every change is visible
    y = noise.salt_and_pepper(x, intensity=35, rng=1)
    n = 200 * 32 * 32
    black = (y == 0).all(-1)
    white = (y == 255).all(-1)
    changed = (y != 128).any(-1)
    sd = np.sqrt(n * (1 / 35) * (34 / 35))
    assert abs(black.sum() - n / 35) < 5 * sd
    assert abs(white.sum() - n / 35) < 5 * sd
    assert changed.sum() == black.sum() + white.sum()  # a hit pixel changes on all channels
    assert abs(changed.mean() - 2 / 35) < 0.003
    # hits are spread evenly: first and second half of the batch get the same share
    assert abs(changed[:100].mean() - changed[100:].mean()) < 0.004


@pytest.mark.parametrize("intensity", [2, 10, 35, 100.5])
def test_salt_and_pepper_rate_follows_intensity(intensity):
    x = np.full((50, 32, 32, 3), 0.5, np.float32)
    y = noise.salt_and_pepper(x, intensity=intensity, rng=3)
    assert y.dtype == np.float32
    assert set(np.unique(y)) <= {0.0, 0.5, 1.0}
    assert abs((y != 0.5).any(-1).mean() - 2 / intensity) < 0.01


def test_salt_and_pepper_is_seeded_and_leaves_input_alone():
    x = photos()
    before = x.copy()
    a = noise.salt_and_pepper(x, rng=7)
    b = noise.salt_and_pepper(x, rng=7)
    c = noise.salt_and_pepper(x, rng=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.array_equal(x, before)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(noise.salt_and_pepper(x, rng=g1), noise.salt_and_pepper(x, rng=g2))


def test_salt_and_pepper_grayscale_and_single_image():
    gray = np.full((64, 64), 100, np.uint8)
    y = noise.salt_and_pepper(gray, rng=0)
    assert y.shape == gray.shape and y.dtype == np.uint8
    assert set(np.unique(y)) <= {0, 100, 255}
    one = noise.salt_and_pepper(np.full((64, 64, 3), 100, np.uint8), rng=0)
    assert one.shape == (64, 64, 3)


def test_salt_and_pepper_rejects_bad_arguments():
    with pytest.raises(ValueError):
        noise.salt_and_pepper(photos(), intensity=1)
    with pytest.raises(TypeError):
        noise.salt_and_pepper(np.zeros((2, 8, 8, 3), np.int32))


# ---------------------------------------------------------------------------- blur

@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_spatial_blur_leaves_constant_colour_unchanged(dtype):
    colour = np.array([200, 30, 90], np.uint8)
    x = np.broadcast_to(colour, (4, 20, 24, 3)).astype(np.uint8)
    x = x if dtype == np.uint8 else x.astype(dtype) / 255
    y = noise.gaussian_blur(x, sigma=1.0)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-6)
    # the report's blur also runs along the channel axis: it mixes the colours
    mixed = noise.gaussian_blur(x, sigma=1.0, across_channels=True)
    assert np.abs(mixed.astype(float) - x.astype(float)).max() > (10 if dtype == np.uint8 else 0.04)


@pytest.mark.parametrize("across", [False, True])
def test_blur_matches_scipy_gaussian_filter(across):
    x = photos(6, 24, np.float64)
    sig = (0, 1.5, 1.5, 1.5 if across else 0)
    np.testing.assert_allclose(noise.gaussian_blur(x, 1.5, across_channels=across),
                               ndimage.gaussian_filter(x, sig, mode="reflect"), atol=1e-12)
    u = photos(6, 24)
    ref = np.clip(np.rint(ndimage.gaussian_filter(u.astype(np.float64), sig)), 0, 255)
    # uint8 output is rounded (scipy's own uint8 output would truncate: mean error -0.5)
    diff = noise.gaussian_blur(u, 1.5, across_channels=across).astype(float) - ref
    assert np.abs(diff).max() <= 1 and abs(diff.mean()) < 0.01


def test_blur_does_not_mix_images_and_handles_wide_images():
    x = np.zeros((3, 16, 16, 3), np.float32)
    x[1, 8, 8] = 1.0
    y = noise.gaussian_blur(x, 1.0)
    assert y[0].max() == 0 and y[2].max() == 0
    assert abs(y[1].sum() - 3.0) < 1e-4  # mass preserved per channel
    wide = photos(2, 400, np.float32)  # W*C > 1024 takes the scipy path
    np.testing.assert_allclose(noise.gaussian_blur(wide, 1.0),
                               ndimage.gaussian_filter(wide, (0, 1, 1, 0)), atol=1e-5)


def test_composite_is_blur_then_salt_and_pepper():
    x = photos()
    expected = noise.salt_and_pepper(noise.gaussian_blur(x, 1.0), 35, rng=11)
    assert np.array_equal(noise.blur_salt_pepper(x, 1.0, 35, rng=11), expected)


# ---------------------------------------------------------------------------- additive noise

def test_gaussian_noise_mean_and_std():
    x = np.full((100, 32, 32, 3), 0.5, np.float32)
    y = noise.gaussian(x, 0.1, clip=False, rng=0)
    d = y - x
    assert y.dtype == np.float32
    assert abs(d.mean()) < 0.001 and abs(d.std() - 0.1) < 0.001
    u = noise.gaussian((x * 255).astype(np.uint8), 25 / 255, rng=0)
    du = u.astype(float) - 127
    assert u.dtype == np.uint8
    assert abs(du.mean()) < 0.1 and abs(du.std() - 25) < 0.2
    clipped = noise.gaussian(x, 0.5, rng=0)
    assert clipped.min() == 0 and clipped.max() == 1
    assert np.array_equal(noise.gaussian(x, 0.1, rng=4), noise.gaussian(x, 0.1, rng=4))
    with pytest.raises(ValueError, match="float"):
        noise.gaussian(u, 0.1, clip=False)


def test_uniform_noise_definition():
    x = np.full((100, 32, 32, 3), 0.5, np.float64)
    p = 0.2
    d = noise.uniform(x, p, rng=0) - x
    assert d.min() >= -p and d.max() <= p
    assert abs(d.mean()) < 0.001 and abs(d.std() - p / np.sqrt(3)) < 0.001
    y = noise.uniform(np.zeros((10, 8, 8, 1), np.float32), 0.4, rng=0)
    assert y.min() == 0 and y.dtype == np.float32  # clipped at 0
    assert not np.array_equal(noise.uniform(x, p, rng=1), noise.uniform(x, p, rng=2))


def test_poisson_noise_mean_and_variance():
    x = np.full((100, 32, 32, 3), 0.4, np.float32)
    peak = 30.0
    y = noise.poisson(x, peak, rng=0)
    assert y.dtype == np.float32
    assert abs(y.mean() - 0.4) < 0.003
    assert abs(y.var() - 0.4 / peak) < 0.0005
    dark = noise.poisson(np.zeros((2, 8, 8, 3), np.uint8), 10, rng=0)
    assert dark.max() == 0  # no light, no shot noise
    u = noise.poisson(np.full((50, 16, 16, 3), 102, np.uint8), 100, rng=0)
    assert u.dtype == np.uint8 and abs(u.mean() - 102) < 0.5
