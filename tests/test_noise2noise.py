import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import denoisers  # noqa: E402
from helpers import noise2noise as n2n  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_random_flips_are_flips_of_each_image():
    x = np.arange(5 * 4 * 3 * 2, dtype=np.float32).reshape(5, 4, 3, 2)
    y = n2n.random_flips(x, rng=0)
    kinds = set()
    for a, b in zip(x, y):
        options = {"none": a, "h": a[:, ::-1], "v": a[::-1], "hv": a[::-1, ::-1]}
        match = [k for k, o in options.items() if np.array_equal(o, b)]
        assert len(match) == 1
        kinds.add(match[0])
    assert len(kinds) > 1  # flips really happen
    np.testing.assert_array_equal(x, np.arange(x.size, dtype=np.float32).reshape(x.shape))


def test_noisy_pairs_are_independent_zero_mean_and_unclipped():
    clean = np.full((16, 16, 16, 3), 128, np.uint8)
    pairs = n2n.noisy_pairs(clean, n2n.gaussian_noise(0.1), rng=1)
    assert set(pairs) == {"clean", "a", "b"}
    na, nb = pairs["a"] - pairs["clean"], pairs["b"] - pairs["clean"]
    assert all(v.dtype == np.float32 and v.shape == clean.shape for v in pairs.values())
    assert abs(na.mean()) < 0.005 and abs(na.std() - 0.1) < 0.005
    assert abs(np.corrcoef(na.ravel(), nb.ravel())[0, 1]) < 0.03
    white = n2n.noisy_pairs(np.ones((4, 8, 8, 1), np.float32), rng=2)
    assert white["a"].max() > 1.0  # not clipped: the noise stays zero-mean
    with pytest.raises(ValueError, match="NHWC"):
        n2n.noisy_pairs(np.zeros((8, 8)))


def test_initialisers():
    shape = (2, 2, 16, 32)  # fan_in = 64
    keras.utils.set_random_seed(0)
    d = np.asarray(n2n.initializer("default")(shape))
    assert np.abs(d).max() <= 1 / 8 + 1e-6 and d.min() < 0
    xp = np.asarray(n2n.initializer("xavier_positive")(shape))
    assert xp.min() == 0.0
    assert 0.4 < np.mean(xp == 0) < 0.6
    limit = np.sqrt(6 / (64 + 128))
    assert xp.max() <= limit + 1e-6
    with pytest.raises(ValueError):
        n2n.initializer("he")


def test_xavier_positive_model_saves_and_reloads(tmp_path):
    m = denoisers.n2n_net(filters=(4, 4, 4, 4, 4),
                          kernel_initializer=n2n.initializer("xavier_positive"))
    assert np.asarray(m.get_layer("conv2").kernel).min() == 0.0
    path = tmp_path / "m.keras"
    m.save(path)
    r = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(r(x)), np.asarray(m(x)), atol=1e-6)


def _linear_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    w = rng.normal(size=(5, 1)).astype(np.float32)
    y = x @ w + 0.3
    return x, y


def test_flat_weights_round_trip():
    m = denoisers.n2n_net(filters=(4, 4, 4, 4, 4))
    flat = n2n.get_flat_weights(m)
    assert flat.size == sum(int(np.prod(v.shape)) for v in m.trainable_variables)
    n2n.set_flat_weights(m, flat * 2)
    np.testing.assert_allclose(n2n.get_flat_weights(m), flat * 2, rtol=1e-6)
    with pytest.raises(ValueError):
        n2n.set_flat_weights(m, np.zeros(flat.size + 1))


def test_lbfgs_solves_least_squares():
    x, y = _linear_problem()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    info = n2n.lbfgs_step(model, x, y, max_iter=50)
    assert info["loss"] < 1e-8 < info["loss_before"]
    assert info["n_iter"] >= 3 and len(info["losses"]) == info["n_iter"]
    assert np.all(np.diff(info["losses"]) <= 1e-12)  # monotone, as a line search ensures
    w, b = model.get_weights()
    a = np.c_[x, np.ones(len(x))]
    exact = np.linalg.lstsq(a, y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[w.ravel(), b], exact.ravel(), atol=1e-3)


def test_keras_optimisers_are_configured_as_named():
    assert n2n.keras_optimizer("sgd").momentum == 0.0
    mom = n2n.keras_optimizer("momentum")
    assert mom.momentum == 0.9 and not mom.nesterov
    assert n2n.keras_optimizer("nesterov").nesterov
    assert isinstance(n2n.keras_optimizer("adam", 2e-3), keras.optimizers.Adam)
    assert float(np.asarray(n2n.keras_optimizer("adam", 2e-3).learning_rate)) == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="lbfgs_step"):
        n2n.keras_optimizer("lbfgs")


# the three code paths: a Keras optimiser, L-BFGS, and the switch between them
@pytest.mark.parametrize("method", ["momentum", "lbfgs", "hybrid"])
def test_every_method_reduces_the_loss_on_a_small_denoiser(method):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    clean = rng.random((32, 8, 8, 1)).astype(np.float32)
    m = denoisers.n2n_net(input_shape=(None, None, 1), filters=(4, 4, 4, 4, 4),
                          batch_norm="none")
    out = n2n.train_steps(m, method, clean, clean, steps=8, batch_size=16,
                          lbfgs_max_iter=5, hybrid_lbfgs_steps=3, rng=0)
    loss = out["loss"]
    assert len(loss) == 8 and np.all(np.isfinite(loss))
    assert np.mean(loss[-2:]) < loss[0]
    if method in ("lbfgs", "hybrid"):
        assert out["n_eval"] > 8  # line searches evaluate the loss more than once per step
    else:
        assert out["n_eval"] == 8


_OTHER_BACKEND = textwrap.dedent("""
    import numpy as np, keras
    from helpers import noise2noise as n2n
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = x @ rng.normal(size=(5, 1)).astype(np.float32) + 0.3
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    info = n2n.lbfgs_step(m, x, y, max_iter=50)
    assert info["loss"] < 1e-8, info
    print("OK", keras.backend.backend(), info["loss"])
""")


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_lbfgs_on_each_backend(backend):
    if backend == keras.backend.backend():
        pytest.skip("covered in-process by test_lbfgs_solves_least_squares")
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run([sys.executable, "-c", _OTHER_BACKEND], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"OK {backend}" in res.stdout


def test_noisy_batches_fresh_noise_crops_and_reproducibility():
    rng = np.random.default_rng(5)
    clean = rng.integers(0, 256, (20, 12, 12, 3), dtype=np.uint8)
    noise = n2n.gaussian_noise(0.1)
    ds = n2n.NoisyBatches(clean, noise, batch_size=8, crop=8, seed=3)
    assert len(ds) == 2
    x, y = ds[0]
    assert x.shape == y.shape == (8, 8, 8, 3) and x.dtype == np.float32
    # clean targets: every target is an 8x8 window of one of the clean images
    u = clean.astype(np.float32) / 255
    for t in y[:3]:
        assert any(np.array_equal(t, img[a:a + 8, b:b + 8])
                   for img in u for a in range(5) for b in range(5))
    assert abs(float((x - y).std()) - 0.1) < 0.01
    x2, y2 = ds[0]
    np.testing.assert_array_equal(x, x2)  # same (seed, epoch, index): same batch
    ds.on_epoch_end()
    x3, _ = ds[0]
    assert not np.array_equal(x, x3)  # a new epoch draws new noise and a new order
    n2 = n2n.NoisyBatches(clean, noise, batch_size=8, target="noisy", seed=3)
    a, b = n2[1]
    assert a.shape == (8, 12, 12, 3)
    assert abs(float((a - b).std()) - 0.1 * np.sqrt(2)) < 0.01  # two independent draws
    with pytest.raises(ValueError, match="crop"):
        n2n.NoisyBatches(clean, noise, crop=20)
    with pytest.raises(ValueError, match="target"):
        n2n.NoisyBatches(clean, noise, target="other")
