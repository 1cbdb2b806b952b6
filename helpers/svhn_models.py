"""SVHN digit classifiers: the report's three networks and a modern small one (notebook 06).

The group report built one network in each of three frameworks; here all four are Keras
functional models. Every builder returns an **uncompiled** model whose first layers turn
raw 0-255 pixels into ``(x - mean) / std`` with the training statistics (so the saved model
takes the cached uint8 images, cast to float32, directly); the output layer is a float32
softmax so mixed precision works. :func:`compile_net` compiles a model with its recipe's
optimiser and :func:`build` returns a compiled one, ready for ``train_or_load``.

======================  ========================================================  =====
name                    architecture (report)                                     batch
======================  ========================================================  =====
``report_tf``           conv5x5-32, pool, conv5x5-64, pool, dropout .5, FC256, FC10  64
``report_caffe``        3 x (conv5x5, ReLU, avg-pool), BN after blocks 1-2, FC+drop   64
``report_pytorch``      ConvNet48_Dropout3: 3 x (conv3x3 48/64/32, BN, ReLU, pool2)   32
``modern``              small ResNet, augmentation, AdamW with a one-cycle schedule   64
======================  ========================================================  =====
"""

from __future__ import annotations

import keras
from keras import layers, ops

# Bump when an architecture or recipe changes: the notebooks put it in train_or_load's
# parameters, so a cached model of an older version is never loaded.
VERSION = 2
NETS = ("report_tf", "report_caffe", "report_pytorch", "modern")
NUM_CLASSES = 10
# PyTorch's BatchNorm default (momentum 0.1 there is 0.9 here): the PyTorch report's setting,
# used for every net so the moving statistics settle within the few hundred steps of a
# short run (Keras' default 0.99 needs thousands).
BN_MOMENTUM = 0.9
RECIPES = {
    "report_tf": {"batch_size": 64, "optimizer": "Adam 1e-3, exponential decay x0.95 / epoch"},
    "report_caffe": {"batch_size": 64, "optimizer": "Adam 1e-3"},
    "report_pytorch": {"batch_size": 32, "optimizer": "SGD lr 0.005, momentum 0.9"},
    "modern": {"batch_size": 64,
               "optimizer": "AdamW, one-cycle (linear warm-up to 3e-3, cosine decay)"},
}


def _stem(input_shape, mean: float, std: float, name: str):
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Normalization(mean=mean, variance=float(std) ** 2, name="standardise")(inputs)
    return inputs, x


def _head(x, name: str):
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="digit")(x)


def report_tf_cnn(input_shape=(32, 32, 1), mean: float = 0.0, std: float = 1.0):
    """The TensorFlow report's CNN (92.96 % on SVHN test): conv 5x5 32 + ReLU, max-pool 2,
    conv 5x5 64 + ReLU, max-pool 2, dropout 0.5, FC 256 + ReLU, FC 10. Uncompiled."""
    inputs, x = _stem(input_shape, mean, std, "report_tf")
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu", name="fc1")(x)
    return keras.Model(inputs, _head(x, "report_tf"), name="report_tf")


def report_caffe_net(input_shape=(32, 32, 1), mean: float = 0.0, std: float = 1.0):
    """The Caffe report's net (about 91 %): three blocks of conv 5x5 (32, 32, 64 filters,
    as in Caffe's CIFAR-10 "quick" model the report started from) + ReLU + 3x3/2 average
    pooling, batch normalisation after blocks 1 and 2, FC 64 with dropout 0.5, FC 10.
    Uncompiled."""
    inputs, x = _stem(input_shape, mean, std, "report_caffe")
    for i, filters in enumerate((32, 32, 64), start=1):
        x = layers.Conv2D(filters, 5, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
        if i < 3:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, _head(x, "report_caffe"), name="report_caffe")


def convnet48_dropout3(input_shape=(32, 32, 1), mean: float = 0.0, std: float = 1.0):
    """The PyTorch report's best net, ``ConvNet48_Dropout3`` (91.6 %): conv 3x3 with 48, 64
    and 32 filters, each followed by BN, ReLU and max-pool 2; dropout 0.5; FC 10.

    The report fed 40x40 inputs, giving 5 x 5 x 32 = 800 features before the FC layer;
    pass ``input_shape=(40, 40, 1)`` for that, or keep 32x32 (512 features). Uncompiled.
    """
    inputs, x = _stem(input_shape, mean, std, "report_pytorch")
    for i, filters in enumerate((48, 64, 32), start=1):
        x = layers.Conv2D(filters, 3, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Flatten(name="features")(x)
    return keras.Model(inputs, _head(x, "report_pytorch"), name="report_pytorch")


@keras.saving.register_keras_serializable(package="kit")
class RandomShift(layers.Layer):
    """Shift each image by its own random whole number of pixels (up to ``max_shift`` in
    each direction, edge pixels repeated), in training only.

    Written with one-hot selection matrices (two tiny batched matrix products), so it is
    fast on every backend; Keras' ``RandomTranslation`` is very slow under JAX on a CPU.
    """

    def __init__(self, max_shift: int = 3, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift, self.seed = int(max_shift), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.max_shift == 0:
            return x
        n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
        p = self.max_shift
        dr = keras.random.randint((n, 1), -p, p + 1, seed=self.seed_generator)
        dc = keras.random.randint((n, 1), -p, p + 1, seed=self.seed_generator)
        rows = ops.one_hot(ops.clip(dr + ops.arange(h)[None, :], 0, h - 1), h, dtype=x.dtype)
        cols = ops.one_hot(ops.clip(dc + ops.arange(w)[None, :], 0, w - 1), w, dtype=x.dtype)
        return ops.einsum("nij,njkc,nlk->nilc", rows, x, cols)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "seed": self.seed}


def _residual(x, filters: int, name: str):
    """conv-BN-ReLU-conv-BN plus a (1x1-projected) shortcut, ReLU (He et al., 2016)."""
    shortcut = x
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn1")(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn2")(y)
    if shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM,
                                             name=f"{name}_proj_bn")(shortcut)
    return layers.ReLU()(layers.Add()([shortcut, y]))


def modern_resnet(input_shape=(32, 32, 1), mean: float = 0.0, std: float = 1.0,
                  widths=(32, 64, 128), augment: bool = True):
    """A small modern net of the kit's own design (not from the report): random shifts of
    up to 3 pixels (about 10 %) as augmentation (training only; no flips: a flipped 2 is no
    2), a conv-BN-ReLU stem, two residual blocks (He et al., 2016), each stage followed by 2x2
    max-pooling, dropout 0.3 and FC 10 on the 4x4 map. About 0.3 M parameters; trained
    with AdamW and a one-cycle schedule. Uncompiled."""
    inputs, x = _stem(input_shape, mean, std, "modern")
    if augment:
        x = RandomShift(3, name="shift")(x)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)
    for i, filters in enumerate(widths[1:], start=1):
        x = _residual(x, filters, f"stage{i}")
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, _head(x, "modern"), name="modern")


BUILDERS = {"report_tf": report_tf_cnn, "report_caffe": report_caffe_net,
            "report_pytorch": convnet48_dropout3, "modern": modern_resnet}


def optimizer_for(name: str, steps_per_epoch: int, epochs: int):
    """The optimiser of each recipe (see :data:`RECIPES`)."""
    if name == "report_tf":
        lr = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=steps_per_epoch,
                                                         decay_rate=0.95)
        return keras.optimizers.Adam(lr)
    if name == "report_caffe":
        return keras.optimizers.Adam(1e-3)
    if name == "report_pytorch":
        return keras.optimizers.SGD(0.005, momentum=0.9)
    if name == "modern":
        total = max(1, steps_per_epoch * epochs)
        warm = max(1, int(0.15 * total))
        lr = keras.optimizers.schedules.CosineDecay(3e-4, decay_steps=total - warm,
                                                    warmup_target=3e-3, warmup_steps=warm,
                                                    alpha=0.01)
        return keras.optimizers.AdamW(lr, weight_decay=5e-4)
    raise ValueError(f"unknown net {name!r}; choose one of {NETS}")


def compile_net(model, name: str, *, steps_per_epoch: int, epochs: int):
    """Compile ``model`` with recipe ``name``'s optimiser, cross-entropy and accuracy."""
    model.compile(optimizer=optimizer_for(name, steps_per_epoch, epochs),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build(name: str, *, input_shape=(32, 32, 1), mean: float = 0.0, std: float = 1.0,
          steps_per_epoch: int = 100, epochs: int = 10):
    """A **compiled** net ``name`` (one of :data:`NETS`), for ``train_or_load`` (notebooks
    06 and 07)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown net {name!r}; choose one of {NETS}")
    model = BUILDERS[name](input_shape, mean=mean, std=std)
    return compile_net(model, name, steps_per_epoch=steps_per_epoch, epochs=epochs)
