"""Denoising networks built with Keras 3 layers only (any backend).

Used by notebook 02 (Zhao's DCNN with direct connections, RED-Net, DnCNN), notebook 03
(the Noise2Noise network) and notebook 05 (DnCNN). Every builder returns an UNCOMPILED
``keras.Model`` whose last layer computes in float32, so mixed precision works.
"""

from __future__ import annotations

import keras
from keras import layers


def dncnn(input_shape=(None, None, 1), depth=17, filters=64, batch_norm=True,
          kernel_initializer="orthogonal", name="dncnn"):
    """DnCNN (Zhang et al., 2017, "Beyond a Gaussian Denoiser"), used by notebooks 02 and 05.

    ``depth`` 3x3 convolutions: Conv+ReLU, ``depth - 2`` x (Conv+BN+ReLU), Conv. The network
    predicts the noise (residual learning); the model's output is ``input - noise``, the
    denoised image, in float32. Fully convolutional: any spatial size works.
    """
    if depth < 3:
        raise ValueError(f"dncnn needs depth >= 3 (got {depth})")
    channels = input_shape[-1]
    if channels is None:
        raise ValueError("dncnn needs a known channel count, e.g. input_shape=(None, None, 1)")
    inp = keras.Input(shape=input_shape, name="noisy")
    x = layers.Conv2D(filters, 3, padding="same", kernel_initializer=kernel_initializer,
                      name="conv1")(inp)
    x = layers.ReLU(name="relu1")(x)
    for i in range(2, depth):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm,
                          kernel_initializer=kernel_initializer, name=f"conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-4, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    noise = layers.Conv2D(channels, 3, padding="same", use_bias=False,
                          kernel_initializer=kernel_initializer, dtype="float32",
                          name=f"conv{depth}_noise")(x)
    out = layers.Subtract(dtype="float32", name="denoised")([inp, noise])
    return keras.Model(inp, out, name=name)


# --------------------------------------------------------------------------------------
# Zhao's DCNN with direct connections (notebook 02)
# --------------------------------------------------------------------------------------

def _conv(filters, kernel, strides=1, padding="same", name=None, activation="relu"):
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                         activation=activation, name=name)


def _deconv(filters, kernel, strides=1, padding="same", name=None, activation="relu"):
    return layers.Conv2DTranspose(filters, kernel, strides=strides, padding=padding,
                                  activation=activation, name=name)


def _image_out(x, channels, kernel, name):
    """The float32, linear output convolution shared by the Zhao variants."""
    return layers.Conv2D(channels, kernel, padding="same", dtype="float32", name=name)(x)


def zhao(input_shape=(64, 64, 3), name="zhao"):
    """Zhao's DCNN as the report's text describes it (notebook 02).

    Conv1 (stride 1) then four 4x4 stride-2 convolutions: 64x64x64, 32x32x128, 16x16x128,
    8x8x256, 4x4x512; four 4x4 stride-2 transposed convolutions back up, the output of
    each Conv layer added to the output of the opposite Deconv layer, the sum feeding the
    next Deconv layer; a stride-1 Deconv5 gives 64x64x3.

    The report's channel list does not add up at two connections (Deconv3 32x32x64 against
    Conv2 32x32x128, Deconv4 64x64x32 against Conv1 64x64x64). The kit resolves this with
    one rule: a Deconv layer that receives a direct connection has as many filters as the
    Conv layer added to it, so Deconv3 has 128 filters and Deconv4 64.
    """
    if any(side is not None and side % 16 for side in input_shape[:2]):
        raise ValueError(f"zhao needs sides divisible by 16 (got {input_shape}); "
                         "(None, None, 3) accepts any such size")
    inp = keras.Input(shape=input_shape, name="noisy")
    c1 = _conv(64, 4, name="conv1")(inp)                       # 64x64x64
    c2 = _conv(128, 4, strides=2, name="conv2")(c1)            # 32x32x128
    c3 = _conv(128, 4, strides=2, name="conv3")(c2)            # 16x16x128
    c4 = _conv(256, 4, strides=2, name="conv4")(c3)            # 8x8x256
    c5 = _conv(512, 4, strides=2, name="conv5")(c4)            # 4x4x512
    d = _deconv(256, 4, strides=2, name="deconv1")(c5)         # 8x8x256
    d = layers.Add(name="deconv1_plus_conv4")([d, c4])
    d = _deconv(128, 4, strides=2, name="deconv2")(d)          # 16x16x128
    d = layers.Add(name="deconv2_plus_conv3")([d, c3])
    d = _deconv(128, 4, strides=2, name="deconv3")(d)          # 32x32x128 (report: 64)
    d = layers.Add(name="deconv3_plus_conv2")([d, c2])
    d = _deconv(64, 4, strides=2, name="deconv4")(d)           # 64x64x64 (report: 32)
    d = layers.Add(name="deconv4_plus_conv1")([d, c1])
    out = layers.Conv2DTranspose(input_shape[-1], 4, padding="same", dtype="float32",
                                 name="deconv5")(d)            # 64x64x3, linear
    return keras.Model(inp, out, name=name)


def seed_exp1(input_shape=(64, 64, 3), name="seed_exp1"):
    """The report's first model summary, reproduced exactly: 5,643,779 parameters (nb 02).

    4x4 kernels; Conv1 same-padded, then valid convolutions 64->61->58->55->52 with 64, 128,
    256 and 512 filters; valid transposed convolutions back to 55, 58, 61, 64 (256, 128, 64,
    64 filters); a same-padded 4x4 output convolution to 3 channels. Direct connections:
    conv4 + deconv1, conv3 + deconv2, conv2 + deconv3.
    """
    inp = keras.Input(shape=input_shape, name="noisy")
    c1 = _conv(64, 4, name="conv1")(inp)
    c2 = _conv(64, 4, padding="valid", name="conv2")(c1)
    c3 = _conv(128, 4, padding="valid", name="conv3")(c2)
    c4 = _conv(256, 4, padding="valid", name="conv4")(c3)
    c5 = _conv(512, 4, padding="valid", name="conv5")(c4)
    d = _deconv(256, 4, padding="valid", name="deconv1")(c5)
    d = layers.Add(name="deconv1_plus_conv4")([d, c4])
    d = _deconv(128, 4, padding="valid", name="deconv2")(d)
    d = layers.Add(name="deconv2_plus_conv3")([d, c3])
    d = _deconv(64, 4, padding="valid", name="deconv3")(d)
    d = layers.Add(name="deconv3_plus_conv2")([d, c2])
    d = _deconv(64, 4, padding="valid", name="deconv4")(d)
    out = _image_out(d, input_shape[-1], 4, name="output")
    return keras.Model(inp, out, name=name)


def seed_exp2(input_shape=(64, 64, 3), name="seed_exp2"):
    """The report's second model summary, reproduced exactly: 25,599,881 parameters (nb 02).

    Conv1 3x3 same (64 filters); valid 33x33, 17x17, 9x9, 5x5 convolutions (64, 128, 256
    and 518 filters, as printed in the report) take 64->32->16->8->4; valid transposed
    convolutions mirror them (256, 128, 64, 64 filters) with additive connections
    (conv4 + deconv1, conv3 + deconv2, conv2 + deconv3), then a 3x3 output conv to 3
    channels. Only a 64x64 input gives these sizes.
    """
    inp = keras.Input(shape=input_shape, name="noisy")
    c1 = _conv(64, 3, name="conv1")(inp)
    c2 = _conv(64, 33, padding="valid", name="conv2")(c1)
    c3 = _conv(128, 17, padding="valid", name="conv3")(c2)
    c4 = _conv(256, 9, padding="valid", name="conv4")(c3)
    c5 = _conv(518, 5, padding="valid", name="conv5")(c4)
    d = _deconv(256, 5, padding="valid", name="deconv1")(c5)
    d = layers.Add(name="deconv1_plus_conv4")([d, c4])
    d = _deconv(128, 9, padding="valid", name="deconv2")(d)
    d = layers.Add(name="deconv2_plus_conv3")([d, c3])
    d = _deconv(64, 17, padding="valid", name="deconv3")(d)
    d = layers.Add(name="deconv3_plus_conv2")([d, c2])
    d = _deconv(64, 33, padding="valid", name="deconv4")(d)
    out = _image_out(d, input_shape[-1], 3, name="output")
    return keras.Model(inp, out, name=name)


# --------------------------------------------------------------------------------------
# RED-Net (Mao, Shen and Yang, 2016, arXiv 1606.08921) -- notebook 02
# --------------------------------------------------------------------------------------

def rednet(input_shape=(None, None, 3), depth=10, filters=64, name=None):
    """RED-Net: ``depth/2`` 3x3 convolutions then ``depth/2`` 3x3 transposed convolutions,
    all stride 1 with ReLU, and symmetric skip connections every two layers: the feature map
    entering conv ``k`` is added to the output of its mirrored deconv for k = 1, 3, 5, ...
    (k = 1 is the input image itself, so the network learns a residual), followed by ReLU
    inside the network. Depth 10, 20 or 30 gives RED10/RED20/RED30. Used by notebook 02.
    """
    if depth < 4 or depth % 2:
        raise ValueError(f"rednet needs an even depth >= 4 (got {depth})")
    half = depth // 2
    channels = input_shape[-1]
    inp = keras.Input(shape=input_shape, name="noisy")
    feats = [inp]  # feats[k] = input of conv k+1
    x = inp
    for k in range(1, half + 1):
        x = _conv(filters, 3, name=f"conv{k}")(x)
        feats.append(x)
    for j in range(1, half + 1):
        mirror = half - j  # deconv j's output has the shape of feats[mirror]
        last = j == half
        x = layers.Conv2DTranspose(channels if last else filters, 3, padding="same",
                                   dtype="float32" if last else None,
                                   name=f"deconv{j}")(x)
        if mirror % 2 == 0:
            x = layers.Add(name=f"skip{mirror}", dtype="float32" if last else None)(
                [x, feats[mirror]])
        if not last:
            x = layers.ReLU(name=f"relu_d{j}")(x)
    return keras.Model(inp, x, name=name or f"red{depth}")


# --------------------------------------------------------------------------------------
# The Noise2Noise network of the second report (PyTorch there) -- notebook 03
# --------------------------------------------------------------------------------------

def torch_conv_k2p1(filters, name, kernel_initializer="glorot_uniform"):
    """PyTorch ``Conv2d(kernel_size=2, stride=1, padding=1)`` in Keras: zero-pad one pixel on
    every side, then a valid 2x2 convolution. The output grows by one pixel: H -> H + 1."""
    def apply(x):
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        return layers.Conv2D(filters, 2, padding="valid", kernel_initializer=kernel_initializer,
                             name=name)(x)
    return apply


def torch_deconv_k2p1(filters, name, kernel_initializer="glorot_uniform", dtype=None,
                      literal=False):
    """PyTorch ``ConvTranspose2d(kernel_size=2, stride=1, padding=1)`` in Keras. The output
    shrinks by one pixel: ``(H - 1) * 1 - 2 * 1 + 2 = H - 1``.

    ``literal=True`` builds it as written: the full transposed convolution (H -> H + 1)
    with one pixel cropped from every side, which is what PyTorch's ``padding`` does to a
    transposed convolution. The default builds the same function more cheaply: a stride-1
    transposed convolution with padding ``p`` equals a convolution of the input padded by
    ``k - 1 - p`` with the kernel flipped, and here ``k - 1 - p = 0``, so it is a *valid*
    2x2 convolution (same parameters, weights re-indexed ``W[i, j] <-> K[1 - i, 1 - j]``).
    XLA on a CPU runs the valid convolution about ten times faster than the transposed one.
    """
    def apply(x):
        if not literal:
            return layers.Conv2D(filters, 2, padding="valid", dtype=dtype,
                                 kernel_initializer=kernel_initializer, name=name)(x)
        x = layers.Conv2DTranspose(filters, 2, padding="valid", dtype=dtype,
                                   kernel_initializer=kernel_initializer, name=name)(x)
        return layers.Cropping2D(1, name=f"{name}_crop", dtype=dtype)(x)
    return apply


N2N_BATCH_NORM = ("report", "none", "all")


def n2n_net(input_shape=(None, None, 3), filters=(32, 64, 64, 128, 128),
            kernel_initializer="glorot_uniform", batch_norm="report", name="n2n"):
    """The Noise2Noise report's network (notebook 03): five conv / transposed-conv pairs with
    kernel 2, stride 1 and padding 1 (PyTorch arithmetic: each conv adds a pixel, each
    transposed conv removes one, so the output has the input's size), ReLU after every layer
    but the last. The transposed convolutions are built in their equivalent valid-convolution
    form (see :func:`torch_deconv_k2p1`).

    ``batch_norm``: ``"report"`` puts BatchNorm before the last two convs and after the first
    two transposed convs; ``"none"`` has no BatchNorm; ``"all"`` puts it after every hidden
    layer. ``filters`` are the five encoder widths (the decoder mirrors them); the report
    does not print its widths, these are the kit's choice.
    """
    if batch_norm not in N2N_BATCH_NORM:
        raise ValueError(f"batch_norm must be one of {N2N_BATCH_NORM} (got {batch_norm!r})")
    if len(filters) != 5:
        raise ValueError(f"n2n_net needs five encoder widths (got {filters})")
    channels = input_shape[-1]
    init = kernel_initializer
    inp = keras.Input(shape=input_shape, name="noisy")
    x = inp
    for i, f in enumerate(filters, start=1):
        if batch_norm == "report" and i in (4, 5):
            x = layers.BatchNormalization(momentum=0.9, name=f"bn_before_conv{i}")(x)
        x = torch_conv_k2p1(f, f"conv{i}", init)(x)
        if batch_norm == "all":
            x = layers.BatchNormalization(momentum=0.9, name=f"bn_conv{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    widths = list(filters[-2::-1]) + [channels]  # 128, 64, 64, 32, channels
    for j, f in enumerate(widths, start=1):
        last = j == 5
        x = torch_deconv_k2p1(f, f"deconv{j}", init, dtype="float32" if last else None)(x)
        if last:
            break
        if batch_norm == "all" or (batch_norm == "report" and j in (1, 2)):
            x = layers.BatchNormalization(momentum=0.9, name=f"bn_deconv{j}")(x)
        x = layers.ReLU(name=f"relu_d{j}")(x)
    return keras.Model(inp, x, name=name)
