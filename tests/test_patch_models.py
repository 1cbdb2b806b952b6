"""helpers.patch_models: architectures, triplet losses, the triplet feeder."""

import keras
import numpy as np
import pytest

from helpers import patch_models as M


def test_shallow_unet_matches_the_report():
    m = M.shallow_unet()
    convs = [layer for layer in m.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 32, 64, 64, 1]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3), (2, 2), (3, 3), (3, 3)]
    assert all(c.kernel_initializer.__class__.__name__ == "HeNormal" for c in convs)
    assert m.output_shape == (None, 32, 32, 1)
    assert m.layers[-1].dtype_policy.compute_dtype == "float32"
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    assert np.all(np.isfinite(np.asarray(m(x))))


@pytest.mark.parametrize("variant,filters", [
    ("baseline", [32, 32, 64, 64, 128, 128, 128]),
    ("updated", [32, 32, 64, 64, 128, 128, 128]),
    ("deep", [32, 32, 32, 64, 64, 64, 128, 128, 128]),
])
def test_descriptor_variants(variant, filters):
    d = M.descriptor(variant)
    convs = [layer for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == filters
    assert convs[-1].kernel_size == (8, 8) and convs[-1].padding == "valid"
    assert d.output_shape == (None, 128)
    n_drop = sum(isinstance(layer, keras.layers.Dropout) for layer in d.layers)
    assert n_drop == (len(filters) - 1 if variant == "updated" else 0)
    x = np.random.default_rng(0).random((3, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.linalg.norm(np.asarray(d(x)), axis=1), 1.0, rtol=1e-5)
    assert M.descriptor(variant, l2_normalize=False).output_shape == (None, 128)
    init = convs[0].kernel_initializer.__class__.__name__
    assert init == ("Orthogonal" if variant == "updated" else "HeNormal")


def test_triplet_losses_by_hand():
    a = np.array([[0.0, 0.0]])
    p = np.array([[1.0, 0.0]])  # |a-p|^2 = 1
    n = np.array([[0.0, 3.0]])  # |a-n|^2 = 9, |p-n|^2 = 10
    y = np.concatenate([a, p, n], axis=1).astype("float32")
    assert float(np.asarray(M.triplet_loss(None, y))[0]) == pytest.approx(0.0)  # 1 - 9 + 1 < 0
    n2 = np.array([[1.0, 0.5]])  # |a-n|^2 = 1.25, |p-n|^2 = 0.25
    y2 = np.concatenate([a, p, n2], axis=1).astype("float32")
    assert float(np.asarray(M.triplet_loss(None, y2))[0]) == pytest.approx(1 - 1.25 + 1)
    assert float(np.asarray(M.hard_triplet_loss(None, y2))[0]) == pytest.approx(1 - 0.25 + 1)


def _toy_set(n_seq=3, n=5, side=32):
    rng = np.random.default_rng(0)
    counts = np.full(n_seq, n)
    offsets = np.arange(n_seq) * 16 * n
    patches = rng.integers(0, 255, (16 * n * n_seq, side, side), dtype=np.uint8)
    return patches, offsets, counts


def test_feeder_triplets_are_valid_and_seeded():
    patches, offsets, counts = _toy_set()
    f = M.TripletFeeder(patches, offsets, counts, batch_size=64, batches_per_epoch=3, seed=7)
    assert len(f) == 3
    a, p, neg, _ = f.rows(1)

    def key(r):
        s = np.searchsorted(offsets, r, side="right") - 1
        local = r - offsets[s]
        return s, local // counts[s], local % counts[s]

    (sa, ta, ia), (sp, tp, ip), (sn, _, i_n) = key(a), key(p), key(neg)
    assert np.all(sa == sp) and np.all(ia == ip) and np.all(ta != tp)
    assert not np.any((sn == sa) & (i_n == ia))
    (xa, xp, xn), y = f[1]
    assert xa.shape == (64, 32, 32, 1) and xa.dtype == np.float32 and y.shape == (64,)
    np.testing.assert_array_equal(xa[:, :, :, 0], patches[a] / np.float32(255))
    # same seed and epoch -> same batch; next epoch -> different batch
    g = M.TripletFeeder(patches, offsets, counts, batch_size=64, batches_per_epoch=3, seed=7)
    np.testing.assert_array_equal(g[1][0][0], xa)
    g.on_epoch_end()
    assert not np.array_equal(g[1][0][0], xa)


def test_feeder_rotation_flips_whole_triplets():
    patches, offsets, counts = _toy_set()
    f = M.TripletFeeder(patches, offsets, counts, batch_size=32, seed=1, rotate180=True)
    (xa, _, _), _ = f[0]
    a, *_ = f.rows(0)
    plain = patches[a] / np.float32(255)
    rotated = np.array([np.array_equal(x[..., 0], q[::-1, ::-1]) for x, q in zip(xa, plain)])
    unchanged = np.array([np.array_equal(x[..., 0], q) for x, q in zip(xa, plain)])
    assert np.all(rotated | unchanged) and 0 < rotated.sum() < 32


def test_triplet_training_lowers_the_loss_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n_seq, n = 2, 4
    keys = rng.integers(0, 128, (n_seq, 1, n, 32, 32))  # one texture per keypoint
    views = keys + rng.integers(0, 128, (n_seq, 16, n, 32, 32))  # 16 noisy views of it
    patches = views.reshape(-1, 32, 32).astype(np.uint8)
    offsets, counts = np.arange(n_seq) * 16 * n, np.full(n_seq, n)
    d = M.descriptor("baseline")
    m = M.triplet_model(d)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=M.triplet_loss)
    f = M.TripletFeeder(patches, offsets, counts, batch_size=16, batches_per_epoch=3, seed=0)
    before = m.evaluate(f, verbose=0)
    m.fit(f, epochs=2, verbose=0)
    assert m.evaluate(f, verbose=0) < before
    path = tmp_path / "t.keras"
    m.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    x = f[0][0]
    np.testing.assert_allclose(np.asarray(again.predict(x, verbose=0)),
                               np.asarray(m.predict(x, verbose=0)), rtol=1e-4, atol=1e-4)


def test_predict_patches_chunks_match_one_call():
    m = M.shallow_unet()
    p = np.random.default_rng(0).integers(0, 255, (10, 32, 32), dtype=np.uint8)
    whole = np.asarray(m.predict(M.to_float(p), verbose=0))
    out = M.predict_patches(m, p, chunk=4, batch_size=3)
    np.testing.assert_allclose(out, whole, rtol=1e-4, atol=1e-5)
    img = M.predict_patches(m, p, chunk=4, as_uint8=True)
    assert img.shape == (10, 32, 32) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, np.clip(np.rint(whole[..., 0] * 255), 0, 255))
