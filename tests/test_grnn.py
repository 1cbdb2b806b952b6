"""Key pixels, GRNN infill and paste-back (helpers.grnn, notebook 07)."""

import keras
import numpy as np
import pytest

from helpers import grnn


def test_bucket_mask_picks_most_populated_bucket():
    score = np.zeros((2, 6, 6))
    score[0, :2] = 5.0            # 12 pixels high, 24 at 0: bucket of 0 wins
    score[1] = np.linspace(0, 1, 36).reshape(6, 6)
    score[1, 3:] = 0.9            # 18 pixels at 0.9 win
    m = grnn.bucket_mask(score, bins=35)
    assert m[0].sum() == 24 and not m[0, :2].any()
    assert m[1, 3:].all()
    assert m[1, :3].sum() <= 1  # at most one ramp value shares the 1/35-wide bucket


def test_grid_mask_every_third_pixel_and_corners():
    m = grnn.grid_mask(np.ones((1, 8, 8), bool), step=3)
    rows, cols = np.nonzero(m[0])
    pts = set(zip(rows.tolist(), cols.tolist()))
    assert pts == {(r, c) for r in (0, 3, 6) for c in (0, 3, 6)} | {(0, 7), (7, 0), (7, 7)}
    empty = grnn.grid_mask(np.zeros((4, 4), bool))
    assert empty.sum() == 4 and empty[0, 0] and empty[3, 3]


def _brute_force(img, keys, sigma):
    pts = np.argwhere(keys)
    vals = img[keys].astype(float)
    out = np.empty(img.shape, float)
    for r in range(img.shape[0]):
        for c in range(img.shape[1]):
            w = np.exp(-((pts - [r, c]) ** 2).sum(1) / (2 * sigma**2))
            out[r, c] = w @ vals / w.sum()
    return out


def test_grnn_predict_is_the_nadaraya_watson_formula():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (12, 10, 3))
    keys = rng.random((12, 10)) < 0.3
    keys[0, 0] = True
    for sigma in (1.0, 2.5):
        np.testing.assert_allclose(grnn.grnn_predict(img, keys, sigma),
                                   _brute_force(img, keys, sigma), rtol=1e-9, atol=1e-9)


def test_vectorised_infill_matches_the_report_loop():
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    keys = grnn.grid_mask(rng.random((5, 32, 32)) < 0.4)
    fast, rounds = grnn.grnn_infill(crops, keys, return_steps=True)
    assert fast.shape == crops.shape and rounds >= 1
    for i in range(5):
        np.testing.assert_allclose(fast[i], grnn.grnn_infill_loop(crops[i], keys[i]),
                                   atol=1e-3)
    one = grnn.grnn_infill(crops[2, ..., 0], keys[2], final_pass=False)
    ref = grnn.grnn_infill_loop(crops[2, ..., 0], keys[2], final_pass=False)
    np.testing.assert_allclose(one, ref, atol=1e-3)
    np.testing.assert_allclose(one[keys[2]], crops[2, ..., 0][keys[2]], atol=1e-3)


def test_infill_reconstructs_smooth_background_under_a_digit():
    yy, xx = np.mgrid[0:32, 0:32]
    background = np.stack([60 + 3 * xx, 100 + 2 * yy, 80 + xx + yy], -1).astype(float)
    img = background.copy()
    img[8:24, 12:20] = 255.0               # the "digit"
    keys = np.zeros((32, 32), bool)
    keys[:, :] = True
    keys[6:26, 10:22] = False              # key pixels only off the digit
    keys = grnn.grid_mask(keys)
    filled = grnn.grnn_infill(img, keys, final_pass=False)
    err_before = np.abs(img[8:24, 12:20] - background[8:24, 12:20]).mean()
    err_after = np.abs(filled[8:24, 12:20] - background[8:24, 12:20]).mean()
    assert err_after < 0.1 * err_before
    const = np.full((16, 16, 3), 77.0)
    np.testing.assert_allclose(grnn.grnn_infill(const, grnn.grid_mask(np.zeros((16, 16),
                                                                       bool))), 77.0, atol=1e-3)
    with pytest.raises(ValueError, match="do not match"):
        grnn.grnn_infill(np.zeros((2, 8, 8, 3)), np.ones((2, 8, 9), bool))


def test_adagrad_rbf_weights_converge_near_the_closed_form():
    pts = np.array([(r, c) for r in range(0, 15, 3) for c in range(0, 15, 3)], float)
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 255, (len(pts), 3))
    w = grnn.fit_rbf_weights_adagrad(pts, y, sigma=1.0, steps=4000, lr=5.0)
    exact = np.linalg.solve(grnn.rbf_design(pts, 1.0), y)
    np.testing.assert_allclose(w, exact, atol=1.0)     # Adagrad reaches the LS solution
    # ...which is the GRNN's closed form w_i = y_i up to the RBF overlap at spacing 3
    assert np.abs(exact - y).max() < 0.1 * 255


def test_paste_back_only_touches_the_box():
    parent = np.zeros((20, 30, 3), np.uint8)
    crop = np.full((32, 32, 3), 200.0)
    out = grnn.paste_back(parent, crop, (5, 2, 12), box=(8, 4, 4, 6), pad=1)
    changed = np.argwhere(out[..., 0] > 0)
    assert changed[:, 0].min() == 3 and changed[:, 0].max() == 10
    assert changed[:, 1].min() == 7 and changed[:, 1].max() == 12
    assert parent.max() == 0  # the original is untouched
    whole = grnn.paste_back(parent, crop, (25, -3, 10))
    assert (whole[:7, 25:] == 200).all() and whole[7:].max() == 0


def _tiny_conv_model():
    inp = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(3, activation="softmax", dtype="float32")(x)
    return keras.Model(inp, out)


def test_key_pixels_avoid_a_bright_digit():
    keras.utils.set_random_seed(0)
    model = _tiny_conv_model()
    conv = model.get_layer("c1")
    k, b = conv.get_weights()
    k[:] = 0
    k[1, 1, 0, 0] = 1.0                                         # identity
    k[:, :, 0, 1] = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]          # Laplacian
    k[:, :, 0, 2] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]        # Sobel x
    k[:, :, 0, 3] = -k[:, :, 0, 2]
    conv.set_weights([k, np.zeros_like(b)])
    x = np.full((2, 16, 16, 1), 50.0, np.float32)
    x[:, 4:12, 7:9] = 250.0  # a two-pixel-wide stroke
    steps = grnn.key_pixels(model, x)
    assert steps["mean_minus_std"].shape == (2, 16, 16)
    assert steps["bucket"][:, 4:12, 7:9].sum() == 0      # the stroke is not background
    far = np.zeros((16, 16), bool)
    far[1:-1, 1:-1] = True                               # the zero padding makes edges
    far[2:14, 5:11] = False                              # two pixels away from the stroke
    assert steps["bucket"][:, far].mean() > 0.9          # the flat rest is
    assert steps["keys"].sum() < steps["bucket"].sum()


def test_input_gradients_match_finite_differences():
    keras.utils.set_random_seed(1)
    model = _tiny_conv_model()
    x = np.random.default_rng(3).uniform(0, 1, (1, 16, 16, 1)).astype(np.float32)
    g = grnn.input_gradients(model, x, class_index=[1])
    assert g.shape == x.shape and np.abs(g).max() > 0
    eps = 1e-2
    for (r, c) in ((3, 4), (8, 8), (15, 0)):
        xp, xm = x.copy(), x.copy()
        xp[0, r, c, 0] += eps
        xm[0, r, c, 0] -= eps
        num = (model.predict(xp, verbose=0)[0, 1] - model.predict(xm, verbose=0)[0, 1]) / (2 * eps)
        assert num == pytest.approx(g[0, r, c, 0], rel=0.05, abs=1e-4)
