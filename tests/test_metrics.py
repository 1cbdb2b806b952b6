"""PSNR/SSIM and the classification metrics on hand-computable cases."""

import numpy as np
import pytest

from helpers import metrics


def test_psnr_known_values_and_dtypes():
    a = np.zeros((2, 4, 4, 1), np.float32)
    b = a.copy()
    b[0] += 0.1  # MSE 0.01 -> 20 dB
    b[1] += 0.01  # MSE 1e-4 -> 40 dB
    np.testing.assert_allclose(metrics.psnr(a, b), [20.0, 40.0], atol=1e-4)
    u8 = np.full((1, 8, 8, 3), 100, np.uint8)
    np.testing.assert_allclose(metrics.psnr(u8, u8 + np.uint8(10)), 20 * np.log10(25.5),
                               atol=1e-4)
    assert np.isinf(metrics.psnr(a, a)).all()
    with pytest.raises(ValueError):
        metrics.psnr(a, a[:1])


def test_ssim_identity_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(0)
    img = rng.random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.ssim(img, img), 1.0, atol=1e-6)
    noisy = np.clip(img + rng.normal(0, 0.2, img.shape), 0, 1).astype(np.float32)
    assert (metrics.ssim(img, noisy) < 0.9).all()
    gray = img[..., :1]
    assert metrics.ssim(gray, gray).shape == (2,)


def test_classification_report_and_confusions():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2, 7 % 3])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 0, 1])
    cm = metrics.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 3, 0], [2, 0, 1]]
    rep = metrics.classification_report(y_true, y_pred, 3)
    assert rep["accuracy"] == pytest.approx(5 / 8)
    np.testing.assert_allclose(rep["precision"], [1 / 3, 3 / 4, 1.0])
    np.testing.assert_allclose(rep["recall"], [1 / 2, 1.0, 1 / 3])
    assert metrics.most_confused(cm, 2) == [(2, 0, 2), (0, 1, 1)]
    table = metrics.report_table(rep)
    assert "accuracy 0.6250" in table and table.count("\n") == 5
