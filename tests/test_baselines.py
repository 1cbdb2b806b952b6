import numpy as np
import pytest

from helpers import baselines
from helpers.metrics import psnr


def _photos(n=3, size=32):
    import skimage.data

    img = skimage.data.astronaut()
    return np.stack([img[120 + 40 * i:120 + 40 * i + size, 180:180 + size] for i in range(n)])


def test_median_removes_isolated_impulses_exactly():
    x = np.full((2, 9, 9, 3), 100, np.uint8)
    y = x.copy()
    y[0, 4, 4, :] = 255
    y[1, 2, 6, 1] = 0
    out = baselines.median(y)
    assert out.dtype == np.uint8 and out.shape == y.shape
    np.testing.assert_array_equal(out, x)


def test_median_does_not_mix_images_or_channels():
    x = np.zeros((2, 5, 5, 2), np.float32)
    x[1] = 1.0
    x[0, ..., 1] = 0.5
    np.testing.assert_array_equal(baselines.median(x), x)


def test_gaussian_filter_preserves_constants_dtype_and_smooths_noise():
    const = np.full((2, 8, 8), 77, np.uint8)
    np.testing.assert_array_equal(baselines.gaussian(const, 1.5), const)
    clean = _photos().astype(np.float32) / 255
    rng = np.random.default_rng(0)
    noisy = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
    out = baselines.gaussian(noisy, 1.0)
    assert out.dtype == np.float32
    assert psnr(clean, out).mean() > psnr(clean, noisy).mean() + 2


def test_tune_picks_the_best_value():
    clean = _photos().astype(np.float32) / 255
    noisy = clean + np.random.default_rng(1).normal(0, 0.1, clean.shape).astype(np.float32)
    best, scores = baselines.tune(baselines.gaussian, clean, noisy, [0.3, 1.0, 6.0])
    assert set(scores) == {0.3, 1.0, 6.0}
    assert best == max(scores, key=scores.get) == 1.0


def test_estimate_noise_sigma_is_close():
    clean = _photos(2, 64).astype(np.float32) / 255
    noisy = clean + np.random.default_rng(2).normal(0, 0.08, clean.shape).astype(np.float32)
    est = baselines.estimate_noise_sigma(noisy)
    assert est.shape == (2,)
    np.testing.assert_allclose(est, 0.08, rtol=0.3)


def test_bad_shape_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="x\\[None\\]"):
        baselines.median(np.zeros((4, 4)))


@pytest.mark.skipif(not baselines.bm3d_available(), reason="bm3d not installed")
def test_bm3d_denoises_gaussian_noise_better_than_gaussian_filter():
    import skimage.data

    clean = skimage.data.camera()[200:264, 200:264][None].astype(np.float32) / 255
    noisy = clean + np.random.default_rng(3).normal(0, 25 / 255, clean.shape).astype(np.float32)
    out = baselines.bm3d(noisy, sigma=25 / 255)
    assert out.shape == clean.shape and out.dtype == np.float32
    gauss = baselines.gaussian(noisy, 1.0)
    assert psnr(clean, out)[0] > psnr(clean, gauss)[0] + 0.5
    out8 = baselines.bm3d((np.clip(noisy, 0, 1) * 255).round().astype(np.uint8))
    assert out8.dtype == np.uint8


@pytest.mark.skipif(not baselines.bm3d_available(), reason="bm3d not installed")
def test_bm3d_handles_gray_images_stored_as_rgb():
    import skimage.data

    g = skimage.data.camera()[300:340, 300:340].astype(np.float32) / 255
    clean = np.repeat(g[None, ..., None], 3, axis=-1)
    noisy = clean + np.random.default_rng(4).normal(0, 0.1, clean.shape).astype(np.float32)
    noisy[..., 1:] = noisy[..., :1]  # still gray
    out = baselines.bm3d(noisy, sigma=0.1)
    assert np.all(np.isfinite(out))
    assert psnr(clean, out)[0] > psnr(clean, noisy)[0] + 3
