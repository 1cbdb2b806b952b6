"""Patch denoiser and descriptor networks, triplet losses and a triplet feeder (notebook 05).

Architectures follow the N-HPatches coursework report and its baseline code:
- :func:`shallow_unet`: the baseline denoiser (5 convolutions, one pooling level);
- :func:`descriptor`: the L2-Net-style baseline descriptor (Tian et al., CVPR 2017) and the
  report's "updated" (orthogonal initialisation, dropout 0.3) and "deep" variants;
- :func:`triplet_loss` / :func:`hard_triplet_loss`: ``max(|a-p|^2 - |a-n|^2 + 1, 0)``, the
  hard version using ``min(|a-n|^2, |p-n|^2)`` as the negative distance;
- :class:`TripletFeeder`: seeded triplets of patches drawn from an HPatches patch set.
DnCNN comes from :func:`helpers.denoisers.dncnn`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

MARGIN = 1.0  # alpha of the report's triplet loss


# ------------------------------------------------------------------------------ denoiser

def shallow_unet(input_shape=(32, 32, 1), name="shallow_unet") -> keras.Model:
    """The report's baseline denoiser (uncompiled): a one-level U-Net.

    conv 16 (3x3) -> max-pool 2 -> conv 32 (3x3) -> upsample 2 -> conv 64 (2x2) ->
    concatenate with the first conv -> conv 64 (3x3) -> conv 1 (3x3, linear, float32).
    ReLU, he_normal, 'same' padding everywhere.
    """
    kw = {"padding": "same", "kernel_initializer": "he_normal"}
    inp = keras.Input(shape=input_shape, name="noisy")
    c1 = layers.Conv2D(16, 3, activation="relu", name="conv1", **kw)(inp)
    p1 = layers.MaxPooling2D(2, name="pool1")(c1)
    c2 = layers.Conv2D(32, 3, activation="relu", name="conv2", **kw)(p1)
    u2 = layers.UpSampling2D(2, name="up2")(c2)
    c3 = layers.Conv2D(64, 2, activation="relu", name="conv3", **kw)(u2)
    m = layers.Concatenate(name="skip")([c1, c3])
    c4 = layers.Conv2D(64, 3, activation="relu", name="conv4", **kw)(m)
    out = layers.Conv2D(input_shape[-1], 3, name="denoised", dtype="float32", **kw)(c4)
    return keras.Model(inp, out, name=name)


# ------------------------------------------------------------------------------ descriptor

DESCRIPTOR_FILTERS = {
    "baseline": (32, 32, 64, 64, 128, 128),
    "updated": (32, 32, 64, 64, 128, 128),
    "deep": (32, 32, 32, 64, 64, 64, 128, 128),
}


def descriptor(variant: str = "baseline", input_shape=(32, 32, 1), dim: int = 128,
               l2_normalize: bool = True, name: str | None = None) -> keras.Model:
    """An L2-Net-style descriptor (uncompiled): patches (32x32x1) -> ``dim`` floats.

    3x3 'same' convolutions, each followed by BN and ReLU, stride 2 at the first layer of
    64 and of 128 filters (32 -> 16 -> 8 pixels), then an 8x8 'valid' convolution to
    ``dim`` and a reshape. ``baseline``: he_normal; ``updated``: orthogonal and dropout
    0.3 after every activation; ``deep``: 32,32,32,64,64,64,128,128 then the 8x8 layer.

    ``l2_normalize`` (the kit's default) scales each descriptor to unit length, as L2-Net
    and HardNet do, so the triplet margin of 1 has a fixed meaning; the report's network
    stops at the reshape (``l2_normalize=False``). Batch norm uses momentum 0.9 so its
    running statistics settle within a short training run.
    """
    if variant not in DESCRIPTOR_FILTERS:
        raise ValueError(f"variant must be one of {list(DESCRIPTOR_FILTERS)}, not {variant!r}")
    init = "orthogonal" if variant == "updated" else "he_normal"
    filters = DESCRIPTOR_FILTERS[variant]
    inp = keras.Input(shape=input_shape, name="patch")
    x = inp
    previous = None
    for i, f in enumerate(filters, start=1):
        stride = 2 if previous is not None and f != previous else 1
        previous = f
        x = layers.Conv2D(f, 3, strides=stride, padding="same", use_bias=False,
                          kernel_initializer=init, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if variant == "updated":
            x = layers.Dropout(0.3, name=f"drop{i}")(x)
    x = layers.Conv2D(dim, 8, padding="valid", kernel_initializer=init, dtype="float32",
                      name=f"conv{len(filters) + 1}")(x)
    x = layers.Reshape((dim,), dtype="float32", name="flatten")(x)
    if l2_normalize:
        x = layers.UnitNormalization(dtype="float32", name="l2_normalize")(x)
    out = layers.Identity(dtype="float32", name="descriptor")(x)
    return keras.Model(inp, out, name=name or f"descriptor_{variant}")


def triplet_model(desc: keras.Model, name="triplet") -> keras.Model:
    """Wrap a descriptor: inputs (anchor, positive, negative), output their descriptors
    concatenated, (batch, 3 * dim), for :func:`triplet_loss`."""
    shape = desc.input_shape[1:]
    a, p, n = (keras.Input(shape=shape, name=k) for k in ("anchor", "positive", "negative"))
    out = layers.Concatenate(dtype="float32", name="triplet")([desc(a), desc(p), desc(n)])
    return keras.Model([a, p, n], out, name=name)


def _split3(y_pred):
    dim = ops.shape(y_pred)[-1] // 3
    return y_pred[:, :dim], y_pred[:, dim:2 * dim], y_pred[:, 2 * dim:]


@keras.saving.register_keras_serializable(package="kit")
def triplet_loss(y_true, y_pred):
    """``max(|a-p|^2 - |a-n|^2 + 1, 0)`` per triplet; ``y_true`` is ignored."""
    a, p, n = _split3(ops.cast(y_pred, "float32"))
    d_ap = ops.sum(ops.square(a - p), axis=-1)
    d_an = ops.sum(ops.square(a - n), axis=-1)
    return ops.maximum(d_ap - d_an + MARGIN, 0.0)


@keras.saving.register_keras_serializable(package="kit")
def hard_triplet_loss(y_true, y_pred):
    """Triplet loss with ``min(|a-n|^2, |p-n|^2)`` as the negative distance."""
    a, p, n = _split3(ops.cast(y_pred, "float32"))
    d_ap = ops.sum(ops.square(a - p), axis=-1)
    d_neg = ops.minimum(ops.sum(ops.square(a - n), axis=-1), ops.sum(ops.square(p - n), axis=-1))
    return ops.maximum(d_ap - d_neg + MARGIN, 0.0)


# ------------------------------------------------------------------------------ data

def to_float(patches) -> np.ndarray:
    """uint8 (n, s, s) patches to float32 (n, s, s, 1) in [0, 1]."""
    x = np.asarray(patches)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x[..., None] if x.ndim == 3 else x


def predict_patches(model: keras.Model, patches, *, batch_size: int = 256,
                    chunk: int = 16384, as_uint8: bool = False) -> np.ndarray:
    """Run ``model`` over uint8 patches chunk by chunk (RAM stays bounded on large sets).

    ``as_uint8`` turns image outputs (a denoiser's) back into uint8 patches, (n, s, s).
    Used by notebook 05.
    """
    outs = []
    for s in range(0, len(patches), chunk):
        y = np.asarray(model.predict(to_float(patches[s:s + chunk]), batch_size=batch_size,
                                     verbose=0))
        if as_uint8:
            y = np.clip(np.rint(y[..., 0] * 255.0), 0, 255).astype(np.uint8)
        outs.append(y)
    return np.concatenate(outs)


class TripletFeeder(keras.utils.PyDataset):
    """Seeded batches ``((anchor, positive, negative), zeros)`` from an HPatches patch set.

    Anchor and positive: the same keypoint in two different images of a sequence;
    negative: a different keypoint (of a random sequence and image). Batch ``i`` of epoch
    ``e`` depends only on ``(seed, e, i)``, so a resumed fit sees the same triplets. All
    indexing is vectorised (one gather per batch). ``rotate180`` rotates a random half of
    the triplets by 180 degrees (the report's "retrained" descriptor). Used by notebook 05.
    """

    def __init__(self, patches, offsets, counts, *, batch_size: int = 128,
                 batches_per_epoch: int = 100, seed: int = 0, rotate180: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.patches = patches
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(self.counts) < 1 or self.counts.min() < 2:
            raise ValueError("every sequence needs at least 2 keypoints to draw negatives")
        self.batch_size, self.batches = int(batch_size), int(batches_per_epoch)
        self.seed, self.rotate180, self.epoch = seed, rotate180, 0
        self._weights = self.counts / self.counts.sum()

    def __len__(self):
        return self.batches

    def on_epoch_end(self):
        self.epoch += 1

    def rows(self, index: int, epoch: int | None = None):
        """(anchor, positive, negative) row indexes of one batch."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, index])
        b = self.batch_size
        seq = rng.choice(len(self.counts), b, p=self._weights)
        n = self.counts[seq]
        idx = (rng.random(b) * n).astype(np.int64)
        imgs = np.argsort(rng.random((b, 16)), axis=1)[:, :3]
        # negative: another keypoint, same sequence half of the time, else any sequence
        seq_n = np.where(rng.random(b) < 0.5, seq, rng.choice(len(self.counts), b,
                                                              p=self._weights))
        n_n = self.counts[seq_n]
        idx_n = (rng.random(b) * n_n).astype(np.int64)
        same = (seq_n == seq) & (idx_n == idx)
        idx_n = np.where(same, (idx_n + 1) % n_n, idx_n)
        a = self.offsets[seq] + imgs[:, 0] * n + idx
        p = self.offsets[seq] + imgs[:, 1] * n + idx
        neg = self.offsets[seq_n] + imgs[:, 2] * n_n + idx_n
        return a, p, neg, rng

    def __getitem__(self, index):
        a, p, neg, rng = self.rows(index)
        x = [to_float(self.patches[np.sort(r)][np.argsort(np.argsort(r))]) for r in (a, p, neg)]
        if self.rotate180:
            flip = rng.random(len(a)) < 0.5
            x = [np.where(flip[:, None, None, None], v[:, ::-1, ::-1], v) for v in x]
        return tuple(x), np.zeros((len(a),), np.float32)
