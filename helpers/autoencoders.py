"""The denoising autoencoder (DAE) of notebook 04 and the classifier on its latent codes.

* :func:`dae`: the report's fully connected DAE, 784 -> 196 -> 784, with the report's
  parameter counts (1,438,676 total, 1,434,580 trainable, 4,096 non-trainable).
* :func:`encoder_of`: the encoder half of a (trained) DAE, images -> 196-d codes.
* :func:`latent_classifier`: the small MLP on codes (15,146 parameters on 196-d codes);
  the same builder on raw 784-pixel inputs is the baseline.
* :class:`NoisyPairs`: (noisy, clean) batches with fresh Gaussian noise every epoch, a
  plain ``keras.utils.PyDataset`` so training works the same on every backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

INPUT_DIM = 784
CODE_DIM = 196


def dae(input_dim: int = INPUT_DIM, code_dim: int = CODE_DIM, *, dropout: float = 0.2,
        negative_slope: float = 0.2, init_stddev: float = 0.05, name: str = "dae") -> keras.Model:
    """The report's DAE (uncompiled); the bottleneck layer is named ``"code"``.

    Encoder: Dense 512, BatchNorm, Dropout, LeakyReLU; Dense 512, BatchNorm, Dropout,
    LeakyReLU; Dense 256, BatchNorm, LeakyReLU; bottleneck Dense 196 (linear).
    Decoder: Dense 256, BatchNorm, LeakyReLU; Dense 512, BatchNorm, LeakyReLU; Dense 784
    sigmoid (float32, so mixed precision works). Weights start from N(0, init_stddev).
    Used by notebook 04.
    """
    layers = keras.layers

    def init():
        return keras.initializers.RandomNormal(stddev=init_stddev)

    def block(x, units, tag, drop):
        x = layers.Dense(units, kernel_initializer=init(), name=f"{tag}_dense")(x)
        x = layers.BatchNormalization(name=f"{tag}_bn")(x)
        if drop:
            x = layers.Dropout(dropout, name=f"{tag}_dropout")(x)
        return layers.LeakyReLU(negative_slope=negative_slope, name=f"{tag}_act")(x)

    inputs = keras.Input((input_dim,), name="noisy_image")
    x = block(inputs, 512, "enc1", True)
    x = block(x, 512, "enc2", True)
    x = block(x, 256, "enc3", False)
    code = layers.Dense(code_dim, kernel_initializer=init(), name="code")(x)
    x = block(code, 256, "dec1", False)
    x = block(x, 512, "dec2", False)
    outputs = layers.Dense(input_dim, activation="sigmoid", kernel_initializer=init(),
                           dtype="float32", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name=name)


def encoder_of(model: keras.Model, layer: str = "code") -> keras.Model:
    """A model sharing ``model``'s weights that maps images to the output of ``layer``."""
    return keras.Model(model.inputs, model.get_layer(layer).output, name="encoder")


def latent_classifier(input_dim: int = CODE_DIM, n_classes: int = 10, *, dropout: float = 0.4,
                      name: str = "latent_classifier") -> keras.Model:
    """Dense 64 relu, Dropout, Dense 32 relu, Dropout, BatchNorm, Dense softmax (uncompiled).

    15,146 parameters on 196-d codes, 52,778 on raw 784-pixel inputs. Used by notebook 04.
    """
    layers = keras.layers
    inputs = keras.Input((input_dim,), name="features")
    x = layers.Dense(64, activation="relu", name="dense64")(inputs)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(32, activation="relu", name="dense32")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    x = layers.BatchNormalization(name="bn")(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def compiled_classifier(input_dim: int, n_classes: int = 10,
                        learning_rate: float = 1e-3, name: str = "latent_classifier"):
    """:func:`latent_classifier` compiled with Adam, categorical cross-entropy, accuracy."""
    model = latent_classifier(input_dim, n_classes, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def add_gaussian(x, sigma: float, rng) -> np.ndarray:
    """``clip(x + sigma * N(0, 1), 0, 1)`` in float32 (the DAE's training noise).

    The same definition as :func:`helpers.noise.gaussian`; ``rng`` is anything
    ``np.random.default_rng`` accepts (an int, a list of ints, a Generator).
    """
    from helpers import noise

    return noise.gaussian(np.asarray(x, np.float32), sigma, clip=True,
                          rng=np.random.default_rng(rng))


class NoisyPairs(keras.utils.PyDataset):
    """Batches ``(clip(x + sigma * N(0,1)), x)`` of float vectors, noise drawn afresh each epoch.

    Reshuffles every epoch. The noise of batch ``i`` in epoch ``e`` comes from the seed
    ``(seed, e, i)``, so a run is reproducible. Used to train the DAE in notebook 04.
    """

    def __init__(self, x, *, batch_size: int = 256, sigma: float = 0.1, seed: int = 0,
                 shuffle: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.x = np.asarray(x, np.float32)
        self.batch_size, self.sigma, self.seed, self.shuffle = batch_size, sigma, seed, shuffle
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch, 1]).permutation(len(self.x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        idx = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        clean = self.x[idx]
        return add_gaussian(clean, self.sigma, [self.seed, self.epoch, index, 2]), clean

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()


def reconstruction_loss(model: keras.Model, noisy, clean, batch_size: int = 1024) -> np.ndarray:
    """Per-image R_loss: the mean squared error between ``model(noisy)`` and ``clean``."""
    clean = np.asarray(clean, np.float32)
    pred = np.asarray(model.predict(np.asarray(noisy, np.float32), batch_size=batch_size,
                                    verbose=0), np.float32)
    return ((pred - clean.reshape(pred.shape)) ** 2).reshape(len(pred), -1).mean(axis=1)


def tensorboard(log_root, run: str) -> list:
    """A TensorBoard callback logging into ``log_root/run`` ([] where it cannot run).

    Keras' TensorBoard callback writes with TensorFlow's summary API, so it needs
    ``tensorflow`` and ``tensorboard`` installed (both are on Colab); without them training
    goes on and says so.
    """
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print("[tensorboard] tensorflow/tensorboard not installed: no TensorBoard logs "
              "for this run (pip install tensorboard).")
        return []
    path = Path(log_root) / run
    path.mkdir(parents=True, exist_ok=True)
    return [keras.callbacks.TensorBoard(log_dir=str(path))]


def early_stopping(patience: int = 20) -> keras.callbacks.EarlyStopping:
    """Early stopping on ``val_accuracy`` that keeps the best epoch's weights."""
    return keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience,
                                         restore_best_weights=True)
