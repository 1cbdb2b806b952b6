"""Digit removal by key pixels and GRNN infill (notebook 07; benchmarked in bench/infill.py).

The report's unsupervised pipeline, step by step:

1. :func:`input_gradients` -- saliency of the predicted class w.r.t. the input (too noisy to
   separate digit from background; shown for comparison).
2. :func:`feature_maps` / :func:`feature_stats` -- the first conv layer's feature maps,
   reduced per pixel to mean, std and mean minus std.
3. :func:`bucket_mask` -- a 35-bucket histogram of mean minus std; the pixels in the most
   populated bucket are taken as background.
4. :func:`grid_mask` -- keep every third pixel in each direction, plus the four corners.
5. :func:`grnn_infill` -- Nadaraya-Watson / GRNN regression from pixel coordinates to colour,
   ``y(x) = sum_i y_i exp(-D_i^2 / 2 s^2) / sum_i exp(-D_i^2 / 2 s^2)``, applied ring by ring
   from the key pixels inwards, then once over the whole crop; closed form and vectorised.
6. :func:`paste_back` -- the infilled crop goes back into the parent image.

:func:`grnn_infill_loop` is the report's per-pixel loop (same numbers, for the benchmark
and the tests); :func:`fit_rbf_weights_adagrad` reproduces the report's trained-RBF variant.
"""

from __future__ import annotations

import numpy as np

# ============================================================================ key pixels


def first_conv_layer(model):
    """The first ``Conv2D`` layer of a Keras model (searching nested models too)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer
        if isinstance(layer, keras.Model):
            try:
                return first_conv_layer(layer)
            except ValueError:
                continue
    raise ValueError(f"model {model.name!r} has no Conv2D layer")


def feature_maps(model, x, layer=None, batch_size: int = 256) -> np.ndarray:
    """(N, H, W, F) float32 outputs of ``layer`` (default: the first conv layer) for ``x``,
    resized by nearest neighbour to the input's H x W if the layer changes the size."""
    import keras

    layer = layer or first_conv_layer(model)
    sub = keras.Model(model.inputs, layer.output)
    x = np.asarray(x, dtype=np.float32)
    fm = np.asarray(sub.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    h, w = x.shape[1:3]
    if fm.shape[1:3] != (h, w):
        rows = np.minimum((np.arange(h) * fm.shape[1]) // h, fm.shape[1] - 1)
        cols = np.minimum((np.arange(w) * fm.shape[2]) // w, fm.shape[2] - 1)
        fm = fm[:, rows][:, :, cols]
    return fm


def feature_stats(fmaps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pixel ``mean``, ``std`` and ``mean_minus_std`` over the feature channels, (N, H, W)."""
    mean, std = fmaps.mean(axis=-1), fmaps.std(axis=-1)
    return {"mean": mean, "std": std, "mean_minus_std": mean - std}


def bucket_mask(score: np.ndarray, bins: int = 35) -> np.ndarray:
    """(N, H, W) bool: pixels whose ``score`` falls in the most populated of ``bins`` equal
    buckets between the image's own minimum and maximum (all images at once)."""
    s = np.asarray(score, dtype=np.float64)
    n = s.shape[0]
    flat = s.reshape(n, -1)
    lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    idx = np.clip(((flat - lo) / span * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount((idx + bins * np.arange(n)[:, None]).ravel(),
                         minlength=n * bins).reshape(n, bins)
    best = counts.argmax(axis=1)
    return (idx == best[:, None]).reshape(s.shape)


def grid_mask(mask: np.ndarray, step: int = 3, corners: bool = True) -> np.ndarray:
    """Keep only pixels on every ``step``-th row and column ("dilation 3"); add the corners."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape[-2:]
    grid = (np.arange(h) % step == 0)[:, None] & (np.arange(w) % step == 0)[None, :]
    out = mask & grid
    if corners:
        out = out.copy()
        for r, c in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
            out[..., r, c] = True
    return out


def key_pixels(model, x, *, bins: int = 35, step: int = 3) -> dict[str, np.ndarray]:
    """The whole key-pixel step for a batch of classifier inputs ``x`` (N, H, W, C).

    Returns the intermediate images too: ``mean``, ``std``, ``mean_minus_std``, ``bucket``
    (most populated histogram bucket) and ``keys`` (after the grid and corners), all (N, H, W).
    """
    stats = feature_stats(feature_maps(model, x))
    bucket = bucket_mask(stats["mean_minus_std"], bins)
    return {**stats, "bucket": bucket, "keys": grid_mask(bucket, step)}


def input_gradients(model, x, class_index=None) -> np.ndarray:
    """d(score of ``class_index``, default the predicted class) / d(input), (N, H, W, C).

    Needs automatic differentiation, which Keras 3 does not expose backend-neutrally, so
    each backend has its own guarded branch (TensorFlow, JAX, PyTorch).
    """
    import keras

    x = np.asarray(x, dtype=np.float32)
    if class_index is None:
        class_index = model.predict(x, verbose=0).argmax(axis=-1)
    n_out = int(model.outputs[0].shape[-1])
    onehot = np.eye(n_out, dtype=np.float32)[np.asarray(class_index)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            score = tf.reduce_sum(model(xt, training=False) * onehot)
        return tape.gradient(score, xt).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def score(xx):
            out, _ = model.stateless_call(trainable, frozen, xx, training=False)
            return jnp.sum(out * onehot)

        return np.asarray(jax.grad(score)(jnp.asarray(x)))
    if backend == "torch":
        import torch

        xt = keras.ops.convert_to_tensor(x).detach().clone().requires_grad_(True)
        out = model(xt, training=False)
        torch.sum(out * torch.as_tensor(onehot, device=out.device)).backward()
        return xt.grad.detach().cpu().numpy()
    raise NotImplementedError(f"input_gradients has no branch for the {backend!r} backend")


# ============================================================================ GRNN infill


def _gauss_matrix(n: int, sigma: float, dtype=np.float64) -> np.ndarray:
    """g[i, j] = exp(-(i - j)^2 / 2 sigma^2), with weights below 1e-30 set to 0: they would
    be denormal floats (very slow arithmetic) and are negligible next to any pixel within
    11 sigma, which every predicted pixel has (it touches a known one)."""
    d = (np.arange(n)[:, None] - np.arange(n)[None, :]).astype(np.float64)
    g = np.exp(-(d**2) / (2.0 * sigma**2))
    g[g < 1e-30] = 0.0
    return g.astype(dtype)


def _to_hncw(images, batch: bool) -> np.ndarray:
    """(H, N, C, W) working layout from (N, H, W[, C]) when ``batch`` else (H, W[, C]).

    In this layout both matrix products of the separable Gaussian act on reshaped views
    (rows: (H, N*C*W); columns: (H*N*C, W)), so nothing is copied between them."""
    a = np.asarray(images)
    if not batch:
        a = a[None]
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError("expected images (N, H, W[, C]) or one (H, W[, C]), got "
                         f"{np.shape(images)}")
    return np.ascontiguousarray(np.transpose(a, (1, 0, 3, 2)))


def _separable(x: np.ndarray, gh: np.ndarray, gw: np.ndarray) -> np.ndarray:
    """``gh @ x @ gw.T`` for every (N, C) slice of ``x`` in (H, N, C, W) layout."""
    h, n, c, w = x.shape
    y = gh @ x.reshape(h, n * c * w)
    return (y.reshape(h * n * c, w) @ gw.T).reshape(h, n, c, w)


def _predict(values: np.ndarray, known: np.ndarray, sigma: float,
             nan_far: bool = True) -> np.ndarray:
    """GRNN at every pixel, (H, N, C, W) values and (H, N, 1, W) bool ``known``."""
    h, w = values.shape[0], values.shape[3]
    gh, gw = _gauss_matrix(h, sigma, values.dtype), _gauss_matrix(w, sigma, values.dtype)
    mask = known.astype(values.dtype)
    num = _separable(values * mask, gh, gw)
    den = _separable(mask, gh, gw)
    with np.errstate(invalid="ignore", divide="ignore"):
        num /= den
    if nan_far:
        num[~np.broadcast_to(den > 0, num.shape)] = np.nan
    return num


def grnn_predict(images, keys, sigma: float = 1.0, dtype=np.float64) -> np.ndarray:
    """One-shot GRNN (Nadaraya-Watson) prediction at **every** pixel from the ``keys`` pixels.

    ``images`` (N, H, W[, C]) with ``keys`` (N, H, W), or one image with (H, W) keys. The
    Gaussian of the squared distance factorises over rows and columns, so both sums of the
    formula are two small matrix products per image: ``num = G_H (m * v) G_W^T`` and
    ``den = G_H m G_W^T``: the exact closed form, no sliding window. Pixels farther than
    about 11 sigma from every key pixel come back as NaN (their weights underflow).
    """
    keys = np.asarray(keys, dtype=bool)
    batch = keys.ndim == 3
    vals = _to_hncw(images, batch).astype(dtype)
    known = _to_hncw(keys, batch)
    out = _predict(vals, known, sigma)
    return np.transpose(out, (1, 0, 3, 2)).reshape(np.shape(images))


def _grow(known: np.ndarray) -> np.ndarray:
    """Known pixels plus their 8 neighbours (binary dilation by a 3x3 square), axes 0 and 3."""
    rows = known.copy()
    rows[1:] |= known[:-1]
    rows[:-1] |= known[1:]
    out = rows.copy()
    out[..., 1:] |= rows[..., :-1]
    out[..., :-1] |= rows[..., 1:]
    return out


def grnn_infill(images, keys, sigma: float = 1.0, final_pass: bool = True,
                return_steps: bool = False, dtype=np.float32):
    """Fill crops from their key pixels with the report's iterative GRNN, all at once.

    ``images``: (N, H, W[, C]) with ``keys`` (N, H, W) bool, or one (H, W[, C]) image with
    ``keys`` (H, W); uint8 or float. Each round predicts the unknown pixels next to known
    ones (8-neighbourhood) from all known pixels and folds them into the known set; when
    every pixel is known, ``final_pass`` predicts the whole crop once more from all of them.
    Each new pixel touches a known one, so its weights never underflow and float32 is
    exact enough (``dtype``). Returns floats in the input's scale and shape (and the
    number of rounds if ``return_steps``).
    """
    keys = np.asarray(keys, dtype=bool)
    batch = keys.ndim == 3
    vals = _to_hncw(images, batch).astype(dtype)
    known = _to_hncw(keys, batch).copy()
    if known.shape[0] != vals.shape[0] or known.shape[1] != vals.shape[1] or \
            known.shape[3] != vals.shape[3]:
        raise ValueError(f"keys {keys.shape} do not match images {np.shape(images)}")
    if not known.any(axis=(0, 2, 3)).all():
        raise ValueError("every crop needs at least one key pixel (the corners are added "
                         "by grid_mask)")
    vals *= known
    rounds = 0
    while not known.all():
        ring = _grow(known) & ~known
        np.copyto(vals, _predict(vals, known, sigma, nan_far=False), where=ring)
        known |= ring
        rounds += 1
    if final_pass:
        vals = _predict(vals, known, sigma, nan_far=False)
    out = np.transpose(vals, (1, 0, 3, 2)).reshape(np.shape(images))
    return (out, rounds) if return_steps else out


def grnn_infill_loop(image, keys, sigma: float = 1.0, final_pass: bool = True) -> np.ndarray:
    """The report's version: the same rounds, but one pixel at a time in a Python loop, each
    prediction a sum over the list of known pixels. One (H, W, C) image; the benchmark's
    reference (bench/infill.py) and the tests' oracle for :func:`grnn_infill`."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[..., None]
    h, w, _ = img.shape
    known = np.asarray(keys, dtype=bool).copy()
    vals = np.where(known[..., None], img, 0.0)
    two_s2 = 2.0 * sigma**2

    def predict(r, c, pts, pv):
        d2 = (pts[:, 0] - r) ** 2 + (pts[:, 1] - c) ** 2
        wts = np.exp(-d2 / two_s2)
        return wts @ pv / wts.sum()

    while not known.all():
        pts = np.argwhere(known).astype(np.float64)
        pv = vals[known]
        ring = []
        for r in range(h):
            for c in range(w):
                if known[r, c]:
                    continue
                if known[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2].any():
                    ring.append((r, c, predict(r, c, pts, pv)))
        for r, c, v in ring:
            vals[r, c] = v
            known[r, c] = True
    if final_pass:
        pts = np.argwhere(known).astype(np.float64)
        pv = vals[known]
        out = np.empty_like(vals)
        for r in range(h):
            for c in range(w):
                out[r, c] = predict(r, c, pts, pv)
        vals = out
    return vals if np.asarray(image).ndim == 3 else vals[..., 0]


def rbf_design(points: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """A[i, j] = phi_j(x_i) / sum_k phi_k(x_i): the normalised RBF network at the key pixels."""
    p = np.asarray(points, dtype=np.float64)
    d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    phi = np.exp(-d2 / (2.0 * sigma**2))
    return phi / phi.sum(axis=1, keepdims=True)


def fit_rbf_weights_adagrad(points, targets, sigma: float = 1.0, steps: int = 500,
                            lr: float = 0.5) -> np.ndarray:
    """The report's variant: one weight per key pixel (RBF centre), trained with Adagrad on
    the squared error of the normalised RBF network at the key pixels. (K, C) weights."""
    a = rbf_design(points, sigma)
    y = np.asarray(targets, dtype=np.float64).reshape(len(a), -1)
    w = np.zeros_like(y)
    acc = np.zeros_like(y)
    for _ in range(steps):
        grad = 2.0 * a.T @ (a @ w - y) / len(a)
        acc += grad**2
        w -= lr * grad / (np.sqrt(acc) + 1e-12)
    return w


# ============================================================================ paste back


def paste_back(parent: np.ndarray, crop: np.ndarray, square, box=None, pad: int = 1):
    """A copy of ``parent`` with ``crop`` (the infilled square, any size) pasted into
    ``square`` = (left, top, side). Only the digit ``box`` (left, top, width, height),
    grown by ``pad`` pixels, is replaced when given; the rest of the square keeps the
    original pixels."""
    from helpers.datasets.svhn import resize

    left, top, side = (int(v) for v in square[:3])
    patch = resize(np.clip(np.rint(crop), 0, 255).astype(np.uint8), side)
    if patch.ndim == 2:
        patch = patch[..., None]
    out = parent.copy()
    h, w = parent.shape[:2]
    if box is None:
        x0, y0, x1, y1 = left, top, left + side, top + side
    else:
        bx, by, bw, bh = (float(v) for v in box[:4])
        x0, y0 = int(np.floor(bx)) - pad, int(np.floor(by)) - pad
        x1, y1 = int(np.ceil(bx + bw)) + pad, int(np.ceil(by + bh)) + pad
    x0, y0 = max(x0, left, 0), max(y0, top, 0)
    x1, y1 = min(x1, left + side, w), min(y1, top + side, h)
    if x1 > x0 and y1 > y0:
        region = patch[y0 - top: y1 - top, x0 - left: x1 - left]
        out[y0:y1, x0:x1] = region if out.ndim == 3 else region[..., 0]
    return out
