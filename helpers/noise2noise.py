"""Noise2Noise training tools (notebook 03): noisy pairs, initialisers, optimisers
including L-BFGS over a Keras model's flattened weights, and the report's hybrid
(L-BFGS for the first steps, then momentum SGD).

L-BFGS runs SciPy's L-BFGS-B on the model's trainable weights flattened into one float64
vector; the loss and its gradient come from the active Keras backend (TensorFlow's
GradientTape, ``jax.value_and_grad`` over ``model.stateless_call``, or PyTorch autograd).
"""

from __future__ import annotations

import time

import keras
import numpy as np

# --------------------------------------------------------------------------------- data


def random_flips(x, rng=None) -> np.ndarray:
    """Each image of the NHWC batch flipped horizontally and/or vertically at random
    (probability 1/2 each, independently per image). Returns a new array."""
    gen = np.random.default_rng(rng)
    out = np.array(x, copy=True)
    h = gen.random(len(out)) < 0.5
    v = gen.random(len(out)) < 0.5
    out[h] = out[h][:, :, ::-1]
    out[v] = out[v][:, ::-1]
    return out


def gaussian_noise(sigma: float = 25 / 255):
    """A noise function for :func:`noisy_pairs`: zero-mean Gaussian, ``sigma`` in [0,1]
    units, not clipped (clipping would bias the noise near black and white, and
    Noise2Noise with an L2 loss needs noise whose mean is zero)."""
    from helpers import noise

    def add(x, rng):
        return noise.gaussian(x, sigma, clip=False, rng=rng)

    add.__name__ = f"gaussian(sigma={sigma:.4f})"
    return add


def noisy_pairs(clean, noise_fn=None, *, rng=None, flips=True) -> dict:
    """Training pairs for Noise2Noise and Noise2Clean from the same images (notebook 03).

    ``clean``: NHWC uint8 or float in [0,1]. Each image is flipped at random (``flips``),
    then noised twice, independently, by ``noise_fn(x, rng)`` (default
    :func:`gaussian_noise`). Returns float32 arrays ``{"clean", "a", "b"}``: N2N trains
    ``a -> b``, N2C trains ``a -> clean``, on exactly the same inputs.
    """
    gen = np.random.default_rng(rng)
    x = np.asarray(clean)
    if x.ndim != 4:
        raise ValueError(f"noisy_pairs needs an NHWC batch, got shape {x.shape}")
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if flips:
        x = random_flips(x, gen)
    noise_fn = noise_fn or gaussian_noise()
    a = noise_fn(x, gen).astype(np.float32)
    b = noise_fn(x, gen).astype(np.float32)
    return {"clean": x, "a": a, "b": b}


class NoisyBatches(keras.utils.PyDataset):
    """Training batches noised on the fly, a fresh noise draw for every batch (notebooks 02
    and 03). ``clean``: uint8 or float NHWC images (may be memory-mapped).

    ``target="clean"`` yields (noisy, clean) pairs (supervised, "Noise2Clean");
    ``target="noisy"`` yields (noisy, independently noisy) pairs (Noise2Noise).
    ``crop`` takes a random ``crop`` x ``crop`` window per image; ``flips`` flips each
    image at random. Batches depend only on (seed, epoch, batch index), so a resumed fit
    sees the same data. Yields float32 in [0,1] (the noise may leave that range).
    """

    def __init__(self, clean, noise_fn, *, batch_size: int = 16, target: str = "clean",
                 crop: int | None = None, flips: bool = False, shuffle: bool = True,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if target not in ("clean", "noisy"):
            raise ValueError(f"target must be 'clean' or 'noisy', not {target!r}")
        self.clean, self.noise_fn, self.batch_size = clean, noise_fn, int(batch_size)
        self.target, self.crop, self.flips, self.shuffle = target, crop, flips, shuffle
        self.seed, self.epoch = seed, 0
        n = len(clean)
        if n < self.batch_size:
            raise ValueError(f"{n} images are fewer than one batch of {self.batch_size}")
        h, w = clean.shape[1:3]
        if crop is not None and (crop > h or crop > w):
            raise ValueError(f"crop {crop} is larger than the {h}x{w} images")

    def __len__(self):
        return len(self.clean) // self.batch_size

    def on_epoch_end(self):
        self.epoch += 1

    def _order(self):
        if not self.shuffle:
            return np.arange(len(self.clean))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.clean))

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, int(index), 1])
        idx = np.sort(self._order()[index * self.batch_size:(index + 1) * self.batch_size])
        x = np.asarray(self.clean[idx])
        x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
        if self.crop is not None:
            h, w = x.shape[1:3]
            tops = rng.integers(0, h - self.crop + 1, len(x))
            lefts = rng.integers(0, w - self.crop + 1, len(x))
            x = np.stack([img[t:t + self.crop, s:s + self.crop]
                          for img, t, s in zip(x, tops, lefts)])
        if self.flips:
            x = random_flips(x, rng)
        noisy = self.noise_fn(x, rng).astype(np.float32)
        target = x if self.target == "clean" else self.noise_fn(x, rng).astype(np.float32)
        return noisy, target


def as_unit_float(x) -> np.ndarray:
    """uint8 images as float32 in [0,1]; float images as float32."""
    x = np.asarray(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


# ------------------------------------------------------------------------- initialisers


@keras.saving.register_keras_serializable(package="kit")
class XavierPositive(keras.initializers.Initializer):
    """The report's "Xavier positive": Xavier (Glorot) uniform, then every negative weight
    set to zero. Half the weights become 0 and the rest are positive, so every unit starts
    as a positive average of its inputs."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        w = keras.initializers.GlorotUniform(seed=self.seed)(shape, dtype=dtype)
        return keras.ops.maximum(w, 0.0)

    def get_config(self):
        return {"seed": self.seed}


INITIALIZERS = ("default", "xavier", "xavier_positive")


def initializer(name: str):
    """A kernel initialiser by the report's name (notebook 03).

    ``"default"``: PyTorch's default for conv layers (the report's framework),
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, i.e. Keras' VarianceScaling(1/3, fan_in,
    uniform); ``"xavier"``: Glorot uniform (Keras' own default); ``"xavier_positive"``:
    :class:`XavierPositive`.
    """
    if name == "default":
        return keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")
    if name == "xavier":
        return keras.initializers.GlorotUniform()
    if name == "xavier_positive":
        return XavierPositive()
    raise ValueError(f"unknown initialiser {name!r}; choose from {INITIALIZERS}")


# --------------------------------------------------------------------------- optimisers

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "lbfgs", "hybrid")


def keras_optimizer(name: str, learning_rate: float | None = None):
    """SGD, SGD with momentum 0.9, Nesterov momentum 0.9, or Adam (notebook 03)."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate or 0.05)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate or 0.05, momentum=0.9)
    if name == "nesterov":
        return keras.optimizers.SGD(learning_rate or 0.05, momentum=0.9, nesterov=True)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate or 1e-3)
    raise ValueError(f"{name!r} is not a Keras optimiser here; choose sgd, momentum, "
                     "nesterov or adam (lbfgs and hybrid run through lbfgs_step)")


def _loss_fn(loss):
    if callable(loss):
        return loss
    if loss == "mse":
        return lambda y, p: keras.ops.mean(keras.ops.square(p - y))
    if loss == "mae":
        return lambda y, p: keras.ops.mean(keras.ops.abs(p - y))
    raise ValueError(f"unknown loss {loss!r}; use 'mse', 'mae' or a callable")


def value_and_grad(model: keras.Model, loss="mse"):
    """``f(flat, x, y) -> (loss, gradient)`` for the model's trainable weights given as one
    flat vector (float64 in, float, float64 vector out), for the active backend. The weights
    are unflattened inside one compiled call (TensorFlow ``tf.function``, ``jax.jit``), so an
    evaluation costs one call. The forward pass runs in training mode (BatchNorm uses and
    updates batch statistics, as PyTorch's L-BFGS closure does).
    """
    lf = _loss_fn(loss)
    variables = list(model.trainable_variables)
    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def step(flat, x, y):
            for v, piece, shape in zip(variables, tf.split(flat, sizes), shapes):
                v.assign(tf.reshape(piece, shape))
            with tf.GradientTape() as tape:
                value = lf(y, model(x, training=True))
            grads = tape.gradient(value, variables)
            grads = [tf.zeros(shape) if g is None else g for g, shape in zip(grads, shapes)]
            return value, tf.concat([tf.reshape(g, [-1]) for g in grads], 0)

        def f(flat, x, y):
            value, grad = step(tf.constant(flat, tf.float32), x, y)
            return float(value), grad.numpy().astype(np.float64)
        return f
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        cuts = np.cumsum(sizes)[:-1].tolist()

        def pure(flat, non_trainable, x, y):
            trainable = [jnp.reshape(p, s) for p, s in zip(jnp.split(flat, cuts), shapes)]
            pred, non_trainable = model.stateless_call(trainable, non_trainable, x,
                                                       training=True)
            return lf(y, pred), non_trainable

        grad_fn = jax.jit(jax.value_and_grad(pure, has_aux=True))

        def f(flat, x, y):
            non_trainable = [v.value for v in model.non_trainable_variables]
            (value, new_nt), grad = grad_fn(jnp.asarray(flat, jnp.float32), non_trainable,
                                            x, y)
            for var, val in zip(model.non_trainable_variables, new_nt):
                var.assign(val)
            return float(value), np.asarray(grad, dtype=np.float64)
        return f
    if backend == "torch":
        import torch

        def f(flat, x, y):
            set_flat_weights(model, flat)
            for v in variables:
                v.value.grad = None
            value = lf(torch.as_tensor(y), model(torch.as_tensor(x), training=True))
            value.backward()
            grads = [v.value.grad.detach().cpu().numpy().ravel() if v.value.grad is not None
                     else np.zeros(n, np.float32) for v, n in zip(variables, sizes)]
            return float(value.detach().cpu()), np.concatenate(grads).astype(np.float64)
        return f
    raise NotImplementedError(f"L-BFGS has no gradient code for the {backend!r} backend")


def get_flat_weights(model: keras.Model) -> np.ndarray:
    """The trainable weights concatenated into one float64 vector."""
    return np.concatenate([np.asarray(keras.ops.convert_to_numpy(v.value)).ravel()
                           for v in model.trainable_variables]).astype(np.float64)


def set_flat_weights(model: keras.Model, flat: np.ndarray) -> None:
    """Write a vector made by :func:`get_flat_weights` back into the model."""
    pos = 0
    for v in model.trainable_variables:
        n = int(np.prod(v.shape))
        v.assign(np.reshape(flat[pos:pos + n], v.shape).astype(v.dtype))
        pos += n
    if pos != flat.size:
        raise ValueError(f"vector has {flat.size} values, the model {pos}")


def lbfgs_step(model: keras.Model, x, y, *, max_iter: int = 20, history_size: int = 10,
               loss="mse", grad_fn=None) -> dict:
    """Minimise ``loss(y, model(x))`` over the model's trainable weights with L-BFGS
    (SciPy's L-BFGS-B, no bounds), at most ``max_iter`` iterations on this batch: the
    counterpart of one ``torch.optim.LBFGS.step(closure)`` (whose default ``max_iter`` is
    also 20). Unlike PyTorch, the curvature memory is not kept between calls.

    Returns ``{"loss_before", "loss", "losses" (one per iteration), "n_iter", "n_eval",
    "message"}``. The model ends at the best weights found.
    """
    from scipy.optimize import minimize

    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    f = grad_fn or value_and_grad(model, loss)
    evals = {"n": 0}

    def fun(flat):
        evals["n"] += 1
        return f(flat, x, y)

    start = get_flat_weights(model)
    loss_before, _ = fun(start)
    losses: list[float] = []

    def record(intermediate_result):
        losses.append(float(intermediate_result.fun))

    res = minimize(fun, start, jac=True, method="L-BFGS-B", callback=record,
                   options={"maxiter": max_iter, "maxcor": history_size,
                            "ftol": 0.0, "gtol": 0.0})
    best = res.x if res.fun <= loss_before else start
    set_flat_weights(model, best)
    return {"loss_before": float(loss_before), "loss": float(min(res.fun, loss_before)),
            "losses": losses, "n_iter": int(res.nit), "n_eval": evals["n"],
            "message": str(res.message)}


def train_steps(model: keras.Model, method: str, x, y, *, steps: int, batch_size: int = 16,
                learning_rate: float | None = None, lbfgs_max_iter: int = 20,
                hybrid_lbfgs_steps: int = 5, loss="mse", rng=0) -> dict:
    """Train for ``steps`` iterations, one minibatch each, and record the loss (notebook 03).

    ``method`` is one of :data:`OPTIMIZERS`. An iteration is one weight update from one
    minibatch for SGD/momentum/Nesterov/Adam, one :func:`lbfgs_step` (up to
    ``lbfgs_max_iter`` inner iterations on that minibatch) for ``"lbfgs"``; ``"hybrid"`` is
    the report's schedule: ``hybrid_lbfgs_steps`` L-BFGS steps, then momentum SGD (lr 0.05,
    momentum 0.9). The recorded loss is the minibatch's loss before its update.
    Returns ``{"loss": [...], "seconds": float, "n_eval": loss evaluations}``.
    """
    if method not in OPTIMIZERS:
        raise ValueError(f"unknown method {method!r}; choose from {OPTIMIZERS}")
    gen = np.random.default_rng(rng)
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    losses: list[float] = []
    n_eval = 0
    start = time.perf_counter()
    grad_fn = value_and_grad(model, loss) if method in ("lbfgs", "hybrid") else None
    compiled_for = None
    for step in range(steps):
        idx = gen.choice(len(x), size=min(batch_size, len(x)), replace=False)
        xb, yb = x[idx], y[idx]
        use_lbfgs = method == "lbfgs" or (method == "hybrid" and step < hybrid_lbfgs_steps)
        if use_lbfgs:
            info = lbfgs_step(model, xb, yb, max_iter=lbfgs_max_iter, grad_fn=grad_fn)
            losses.append(info["loss_before"])
            n_eval += info["n_eval"]
            continue
        name = "momentum" if method == "hybrid" else method
        if compiled_for != name:
            lr = 0.05 if method == "hybrid" else learning_rate
            # short runs: compiling the step with XLA would cost more than it saves
            model.compile(optimizer=keras_optimizer(name, lr), loss=loss, jit_compile=False)
            compiled_for = name
        losses.append(float(np.asarray(model.train_on_batch(xb, yb)).ravel()[0]))
        n_eval += 1
    return {"loss": losses, "seconds": time.perf_counter() - start, "n_eval": n_eval}
