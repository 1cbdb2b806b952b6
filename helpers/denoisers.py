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
