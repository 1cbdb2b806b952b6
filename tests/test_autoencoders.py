"""helpers.autoencoders: the report's parameter counts, the noisy batches, a tiny training."""

import keras
import numpy as np
import pytest

from helpers import autoencoders as ae


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def test_dae_has_the_reports_parameter_counts():
    model = ae.dae()
    assert _counts(model) == (1_438_676, 1_434_580, 4_096)
    assert model.output.shape[1:] == (784,)
    assert model.get_layer("code").output.shape[1:] == (196,)
    assert model.get_layer("reconstruction").dtype_policy.compute_dtype == "float32"


def test_classifier_parameter_counts():
    assert ae.latent_classifier(196).count_params() == 15_146
    assert ae.latent_classifier(784).count_params() == 52_778


def test_encoder_shares_weights_and_outputs_in_range():
    model = ae.dae()
    enc = ae.encoder_of(model)
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    codes = np.asarray(enc.predict(x, verbose=0))
    assert codes.shape == (5, 196) and np.isfinite(codes).all()
    # change a weight of the DAE: the encoder sees it (shared, not copied)
    kernel = model.get_layer("code").kernel
    kernel.assign(np.asarray(kernel) * 2)
    np.testing.assert_allclose(np.asarray(enc.predict(x, verbose=0)),
                               2 * codes - np.asarray(model.get_layer("code").bias), rtol=1e-4,
                               atol=1e-5)
    out = np.asarray(model.predict(x, verbose=0))
    assert out.min() >= 0 and out.max() <= 1
    probs = np.asarray(ae.latent_classifier(196).predict(codes, verbose=0))
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_noisy_pairs_fresh_noise_each_epoch_and_reproducible():
    x = np.full((10, 784), 0.5, np.float32)
    x[:, :100] = 0.0
    ds = ae.NoisyPairs(x, batch_size=4, sigma=0.1, seed=7)
    assert len(ds) == 3
    noisy, clean = ds[0]
    assert noisy.shape == clean.shape == (4, 784) and noisy.dtype == np.float32
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_array_equal(clean, 0.5 * (np.arange(784) >= 100)[None].repeat(4, 0))
    residual = (noisy - clean)[:, 100:]  # mid-grey pixels: clipping never bites at 0.5 +- 5 sigma
    assert abs(residual.std() - 0.1) < 0.005 and abs(residual.mean()) < 0.005
    assert (noisy[:, :100] >= 0).all() and (noisy[:, :100] == 0).mean() > 0.4  # clipped at 0
    again = ae.NoisyPairs(x, batch_size=4, sigma=0.1, seed=7)[0][0]
    np.testing.assert_array_equal(again, noisy)
    seen = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert len(seen) == 10
    ds.on_epoch_end()
    assert ds.epoch == 1
    assert not np.array_equal(ds[0][0], noisy)  # fresh noise in the next epoch


def test_noisy_pairs_covers_every_sample_once_per_epoch():
    x = np.arange(9, dtype=np.float32)[:, None].repeat(3, 1) / 10
    ds = ae.NoisyPairs(x, batch_size=4, sigma=0.0, seed=1)
    for _ in range(2):
        seen = np.concatenate([ds[i][1][:, 0] for i in range(len(ds))])
        np.testing.assert_allclose(np.sort(seen), x[:, 0])
        ds.on_epoch_end()


def test_reconstruction_loss_is_per_image_mse():
    model = ae.dae()
    x = np.random.default_rng(2).random((6, 784)).astype(np.float32)
    target = np.random.default_rng(3).random((6, 784)).astype(np.float32)
    pred = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(ae.reconstruction_loss(model, x, target),
                               ((pred - target) ** 2).mean(axis=1), rtol=1e-5)


def test_tiny_dae_training_denoises_and_reloads(tmp_path):
    from helpers import training

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # 256 "images": four bar patterns, each a clean target the DAE can learn
    protos = np.zeros((4, 28, 28), np.float32)
    protos[0, 10:18] = 1
    protos[1, :, 10:18] = 1
    protos[2, 4:24, 4:8] = 1
    protos[3, 20:24, 4:24] = 1
    x = protos[rng.integers(0, 4, 256)].reshape(256, 784)

    def build():
        model = ae.dae()
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
        return model

    res = training.train_or_load("tiny-dae", {"test": 1}, build, epochs=5, verbose=0,
                                 x=ae.NoisyPairs(x, batch_size=8, sigma=0.1, seed=0),
                                 callbacks=ae.tensorboard(tmp_path / "tb", "tiny"))
    assert res.trained and len(res.history["loss"]) == 5
    assert res.history["loss"][-1] < 0.5 * res.history["loss"][0]
    noisy = ae.add_gaussian(x, 0.1, 5)
    noisy_mse = ((noisy - x) ** 2).mean()
    assert ae.reconstruction_loss(res.model, noisy, x).mean() < noisy_mse
    if keras.backend.backend() == "tensorflow":
        assert any((tmp_path / "tb" / "tiny").rglob("*tfevents*"))
    again = training.train_or_load("tiny-dae", {"test": 1}, build, epochs=5, verbose=0,
                                   x=ae.NoisyPairs(x, batch_size=8))
    assert not again.trained
    np.testing.assert_allclose(again.model.predict(noisy, verbose=0),
                               res.model.predict(noisy, verbose=0), atol=1e-6)


@pytest.mark.parametrize("patience", [3])
def test_early_stopping_watches_val_accuracy(patience):
    cb = ae.early_stopping(patience)
    assert cb.monitor == "val_accuracy" and cb.patience == patience and cb.restore_best_weights
