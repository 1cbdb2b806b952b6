"""The four SVHN classifiers (helpers.svhn_models, notebook 06)."""

import keras
import numpy as np
import pytest

from helpers import svhn_models as sm


def _conv(k, cin, cout):
    return k * k * cin * cout + cout


def test_report_tf_architecture():
    m = sm.report_tf_cnn()
    assert m.output_shape == (None, 10)
    # conv 5x5 32, conv 5x5 64, FC 256 on the 8x8x64 map, FC 10: exactly the report's net
    expected = _conv(5, 1, 32) + _conv(5, 32, 64) + (8 * 8 * 64 * 256 + 256) + (256 * 10 + 10)
    assert m.count_params() == expected
    assert m.get_layer("conv1").kernel_size == (5, 5)
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.5
               for layer in m.layers)


def test_convnet48_dropout3_feeds_800_features_at_40x40():
    m40 = sm.convnet48_dropout3((40, 40, 1))
    assert m40.get_layer("features").output.shape[-1] == 800
    assert m40.get_layer("digit").kernel.shape == (800, 10)
    m32 = sm.convnet48_dropout3((32, 32, 1))
    assert m32.get_layer("features").output.shape[-1] == 512
    filters = [layer.filters for layer in m32.layers if isinstance(layer, keras.layers.Conv2D)]
    assert filters == [48, 64, 32]


def test_caffe_net_blocks():
    m = sm.report_caffe_net()
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds.count("Conv2D") == 3 and kinds.count("AveragePooling2D") == 3
    assert kinds.count("BatchNormalization") == 2


@pytest.mark.parametrize("name", sm.NETS)
def test_every_net_outputs_float32_probabilities(name):
    m = sm.build(name, mean=120.0, std=40.0, steps_per_epoch=5, epochs=2)
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 1)).astype("float32")
    p = np.asarray(m.predict(x, verbose=0))
    assert p.shape == (4, 10) and m.outputs[0].dtype == "float32"
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert m.optimizer is not None


def test_normalisation_is_inside_the_model():
    a = sm.report_tf_cnn(mean=100.0, std=20.0)
    b = sm.report_tf_cnn(mean=0.0, std=1.0)
    b.set_weights(a.get_weights())
    x = np.full((1, 32, 32, 1), 100.0, np.float32)
    xs = np.zeros((1, 32, 32, 1), np.float32)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(xs, verbose=0), atol=1e-6)


def test_modern_net_learns_and_reloads(tmp_path):
    """A few steps on two separable classes: the loss falls; save/load keeps predictions."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(100, 10, (128, 32, 32, 1)).astype("float32")
    y = rng.integers(0, 2, 128)
    x[y == 1, 8:24, 14:18] += 120.0  # class 1 has a bright vertical bar
    m = sm.build("modern", mean=float(x.mean()), std=float(x.std()), steps_per_epoch=4,
                 epochs=3)
    h = m.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert (m.predict(x, verbose=0).argmax(1) == y).mean() > 0.8
    path = tmp_path / "m.keras"
    m.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(x[:8], verbose=0), m.predict(x[:8], verbose=0),
                               atol=1e-5)


def test_unknown_net():
    with pytest.raises(ValueError, match="unknown net"):
        sm.build("resnet152")


def test_random_shift_moves_whole_images_in_training_only():
    layer = sm.RandomShift(2, seed=3)
    x = np.arange(4 * 8 * 8 * 2, dtype="float32").reshape(4, 8, 8, 2)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    rows = np.arange(8)
    for i in range(4):
        matches = [(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)
                   if np.array_equal(y[i], x[i][np.clip(rows + dr, 0, 7)][:, np.clip(rows + dc,
                                                                                  0, 7)])]
        assert matches, f"image {i} is not a shifted copy of its input"
    assert not all(np.array_equal(y[i], x[i]) for i in range(4))
