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


def test_seed_models_reproduce_report_parameter_counts():
    # the two model summaries printed in the report
    exp1 = denoisers.seed_exp1()
    assert exp1.count_params() == 5_643_779
    assert [exp1.get_layer(n).output.shape[1] for n in
            ("conv1", "conv2", "conv3", "conv4", "conv5", "deconv1", "deconv2", "deconv3",
             "deconv4", "output")] == [64, 61, 58, 55, 52, 55, 58, 61, 64, 64]
    exp2 = denoisers.seed_exp2()
    assert exp2.count_params() == 25_599_881
    assert [exp2.get_layer(n).output.shape[1] for n in
            ("conv1", "conv2", "conv3", "conv4", "conv5", "deconv1", "deconv2", "deconv3",
             "deconv4", "output")] == [64, 32, 16, 8, 4, 8, 16, 32, 64, 64]
    assert exp2.get_layer("conv5").output.shape[-1] == 518  # as printed in the report
    assert exp1.output.shape[1:] == exp2.output.shape[1:] == (64, 64, 3)


def test_zhao_matches_described_sizes_and_direct_connections():
    m = denoisers.zhao()
    sizes = {n: tuple(m.get_layer(n).output.shape[1:]) for n in
             ("conv1", "conv2", "conv3", "conv4", "conv5", "deconv1", "deconv2", "deconv5")}
    assert sizes == {"conv1": (64, 64, 64), "conv2": (32, 32, 128), "conv3": (16, 16, 128),
                     "conv4": (8, 8, 256), "conv5": (4, 4, 512), "deconv1": (8, 8, 256),
                     "deconv2": (16, 16, 128), "deconv5": (64, 64, 3)}
    adds = [layer for layer in m.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 4
    x = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    assert np.asarray(m(x)).shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="divisible by 16"):
        denoisers.zhao(input_shape=(40, 40, 3))


@pytest.mark.parametrize("depth, n_skips", [(10, 3), (20, 5), (30, 8)])
def test_rednet_depth_and_symmetric_skips(depth, n_skips):
    m = denoisers.rednet(depth=depth, filters=16)
    convs = [la for la in m.layers if type(la) is keras.layers.Conv2D]
    deconvs = [la for la in m.layers if isinstance(la, keras.layers.Conv2DTranspose)]
    assert len(convs) == len(deconvs) == depth // 2
    assert all(la.kernel_size == (3, 3) for la in convs + deconvs)
    adds = [la for la in m.layers if isinstance(la, keras.layers.Add)]
    assert len(adds) == n_skips  # one skip every two layers, the last from the input
    assert m.layers[-1].name == "skip0"
    x = np.random.default_rng(2).random((1, 12, 20, 3), dtype=np.float32)
    assert np.asarray(m(x)).shape == x.shape
    with pytest.raises(ValueError):
        denoisers.rednet(depth=7)


def _torch_conv_transpose_k2p1(x, kernel, bias):
    """NumPy reference of PyTorch ConvTranspose2d(kernel 2, stride 1, padding 1), NHWC:
    scatter every input pixel through the kernel onto an (H+1)x(W+1) grid, then remove
    ``padding`` pixels from every side."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    full = np.zeros((n, h + k - 1, w + k - 1, kernel.shape[2]), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            # Keras stores transposed kernels as (kh, kw, out, in)
            full[:, i:i + h, j:j + w, :] += x @ kernel[i, j].T
    return full[:, 1:-1, 1:-1, :] + bias


def _torch_conv_k2p1(x, kernel, bias):
    """NumPy reference of PyTorch Conv2d(kernel 2, stride 1, padding 1) (cross-correlation)."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, h, w, _ = xp.shape
    out = np.zeros((n, h - 1, w - 1, kernel.shape[3]))
    for i in range(2):
        for j in range(2):
            out += xp[:, i:i + h - 1, j:j + w - 1, :] @ kernel[i, j]
    return out + bias


def test_n2n_layers_follow_pytorch_padding_arithmetic():
    rng = np.random.default_rng(3)
    x = rng.random((2, 7, 9, 3)).astype(np.float32)
    inp = keras.Input((None, None, 3))
    conv_out = denoisers.torch_conv_k2p1(4, "c")(inp)
    conv_model = keras.Model(inp, conv_out)
    y = np.asarray(conv_model(x))
    assert y.shape == (2, 8, 10, 4)  # H + 2*1 - 2 + 1 = H + 1
    k, b = conv_model.get_layer("c").get_weights()
    np.testing.assert_allclose(y, _torch_conv_k2p1(x, k, b), atol=1e-5)

    inp = keras.Input((None, None, 3))
    de_model = keras.Model(inp, denoisers.torch_deconv_k2p1(5, "d", literal=True)(inp))
    z = np.asarray(de_model(x))
    assert z.shape == (2, 6, 8, 5)  # (H - 1) - 2*1 + 2 = H - 1
    k, b = de_model.get_layer("d").get_weights()
    np.testing.assert_allclose(z, _torch_conv_transpose_k2p1(x, k, b), atol=1e-5)

    # the default form is a valid 2x2 convolution: the same function with the kernel
    # flipped and its in/out axes swapped
    inp = keras.Input((None, None, 3))
    fast = keras.Model(inp, denoisers.torch_deconv_k2p1(5, "d")(inp))
    assert isinstance(fast.get_layer("d"), keras.layers.Conv2D)
    assert not isinstance(fast.get_layer("d"), keras.layers.Conv2DTranspose)
    fast.get_layer("d").set_weights([k[::-1, ::-1].transpose(0, 1, 3, 2), b])
    np.testing.assert_allclose(np.asarray(fast(x)), z, atol=1e-5)


@pytest.mark.parametrize("bn, n_bn", [("report", 4), ("none", 0), ("all", 9)])
def test_n2n_net_shapes_and_batchnorm_placement(bn, n_bn):
    m = denoisers.n2n_net(filters=(4, 4, 8, 8, 8), batch_norm=bn)
    names = [la.name for la in m.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(names) == n_bn
    if bn == "report":
        assert names == ["bn_before_conv4", "bn_before_conv5", "bn_deconv1", "bn_deconv2"]
    sizes = [m.get_layer(f"conv{i}").output.shape for i in range(1, 6)]
    assert all(s[1] is None for s in sizes)
    x = np.random.default_rng(4).random((1, 11, 14, 3), dtype=np.float32)
    probe = keras.Model(m.input, [m.get_layer(f"conv{i}").output for i in range(1, 6)])
    grown = [a.shape[1:3] for a in probe(x)]
    assert grown == [(12, 15), (13, 16), (14, 17), (15, 18), (16, 19)]
    assert np.asarray(m(x)).shape == x.shape
    assert m.output.dtype == "float32"
    with pytest.raises(ValueError):
        denoisers.n2n_net(batch_norm="after")
