import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import denoisers  # noqa: E402


def test_dncnn_parameter_count_and_shape():
    model = denoisers.dncnn()
    # 640 (conv1 + bias) + 15 x (64*9*64 conv + 4*64 BN) + 64*9 output conv
    assert model.count_params() == 640 + 15 * (36864 + 256) + 576 == 558_016
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 556_096  # the ~0.56 M of the DnCNN paper
    x = np.random.default_rng(0).random((2, 40, 40, 1), dtype=np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, 40, 40, 1) and y.dtype == np.float32
    assert np.all(np.isfinite(y))


def test_dncnn_is_residual_and_fully_convolutional():
    model = denoisers.dncnn(input_shape=(None, None, 3), depth=5, filters=8)
    # zero the noise branch: the output must then be exactly the input
    last = model.get_layer("conv5_noise")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    x = np.random.default_rng(1).random((1, 23, 31, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), x, atol=1e-6)
    assert model.output.dtype == "float32"
    with pytest.raises(ValueError, match="depth"):
        denoisers.dncnn(depth=2)
