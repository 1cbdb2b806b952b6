"""Steady-state training throughput of every model family in the kit, on this device.

    KERAS_BACKEND=jax python bench/gpu_train.py                 # all models, GPU sizes
    KERAS_BACKEND=jax python bench/gpu_train.py --models seed_exp1 dncnn --batch 64
    python bench/gpu_train.py --quick                           # tiny, on a CPU (CI)

One line per model:
    RESULT <model> backend=<b> dtype=<policy> batch=<n> img_per_s=<x> gflop_per_img=<f>
           frac_peak=<p> peak_mem_mb=<m>

Throughput is measured with Keras' own ``fit`` (the path the notebooks use) over several
epochs of a fixed in-memory set, after a warm-up epoch that compiles; images per second
count every input image (a triplet counts three patches). ``frac_peak`` divides the
model's training FLOPs (3x the forward FLOPs of its conv, transposed-conv and dense
layers) by the device's bf16 (GPU) or float32 (CPU) matmul peak measured in the same run.
Compare with ``torch_reference.py`` (plain PyTorch, torch.compile, bf16) in the same job.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402


def _models():
    """name -> (builder of an uncompiled model, input shape, loss, default GPU batch)."""
    from helpers import autoencoders, denoisers, patch_models, svhn_models

    def triplet():
        return patch_models.triplet_model(patch_models.descriptor("baseline"))

    return {
        "zhao": (lambda: denoisers.zhao((64, 64, 3)), (64, 64, 3), "mse", 64),
        "seed_exp1": (lambda: denoisers.seed_exp1((64, 64, 3)), (64, 64, 3), "mse", 64),
        "rednet10": (lambda: denoisers.rednet((64, 64, 3), depth=10), (64, 64, 3), "mse", 64),
        "dncnn": (lambda: denoisers.dncnn((40, 40, 1)), (40, 40, 1), "mse", 128),
        "n2n": (lambda: denoisers.n2n_net((64, 64, 3)), (64, 64, 3), "mse", 64),
        "dae": (lambda: autoencoders.dae(), (784,), "mse", 256),
        "descriptor": (triplet, "triplet", patch_models.triplet_loss, 256),
        "svhn_tf": (lambda: svhn_models.report_tf_cnn((32, 32, 1)), (32, 32, 1),
                    "sparse_categorical_crossentropy", 64),
        "svhn_caffe": (lambda: svhn_models.report_caffe_net((32, 32, 1)), (32, 32, 1),
                       "sparse_categorical_crossentropy", 64),
        "svhn_pytorch": (lambda: svhn_models.convnet48_dropout3((32, 32, 1)), (32, 32, 1),
                         "sparse_categorical_crossentropy", 32),
        "svhn_modern": (lambda: svhn_models.modern_resnet((32, 32, 1)), (32, 32, 1),
                        "sparse_categorical_crossentropy", 256),
    }


def forward_flops(model: keras.Model) -> float:
    """Forward FLOPs per sample (2 per multiply-add) of conv, transposed conv and dense."""
    total = 0.0
    for layer in _walk(model):
        if not layer.weights:
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        out = layer.output.shape[1:]
        if isinstance(layer, keras.layers.Conv2DTranspose):
            inp = layer.input.shape[1:]  # each input pixel scatters a kh*kw*cout patch
            total += 2 * np.prod(inp[:-1]) * np.prod(shape)
        elif isinstance(layer, keras.layers.Conv2D):
            total += 2 * np.prod(out[:-1]) * np.prod(shape)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * np.prod(shape)
    return float(total)


def _walk(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer)
        else:
            yield layer


def matmul_peak_tflops(dtype: str, n: int, reps: int) -> float:
    """Measured matmul throughput of this device (TFLOP/s) with ``keras.ops``."""
    from keras import ops

    a = ops.cast(ops.ones((n, n)), dtype)
    b = ops.cast(ops.ones((n, n)), dtype)

    def run(k):
        c = a
        for _ in range(k):
            c = ops.matmul(c, b) * 0.0 + a
        return ops.convert_to_numpy(ops.sum(ops.cast(c[:1, :1], "float32")))

    run(1)
    start = time.perf_counter()
    run(reps)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def peak_memory_mb() -> float | None:
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return peak / 2**20 if peak else None
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
    except Exception:
        return None
    return None


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def measure(name, spec, batch, steps, epochs, steps_per_execution, optimizer, jit):
    build, shape, loss, _ = spec
    keras.utils.set_random_seed(0)
    model = build()
    opt = (keras.optimizers.SGD(0.01, momentum=0.9) if optimizer == "sgd"
           else keras.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss=loss, jit_compile=jit,
                  steps_per_execution=steps_per_execution)
    rng = np.random.default_rng(0)
    n = batch * steps
    per_sample = 1
    if shape == "triplet":
        x = [rng.random((n, 32, 32, 1), dtype=np.float32) for _ in range(3)]
        y = np.zeros((n, 1), np.float32)
        per_sample = 3
    elif loss == "sparse_categorical_crossentropy":
        x = rng.random((n, *shape), dtype=np.float32)
        y = rng.integers(0, 10, n)
    else:
        x = rng.random((n, *shape), dtype=np.float32)
        y = rng.random((n, *model.output_shape[1:]), dtype=np.float32)
    timer = _EpochTimer()
    model.fit(x, y, batch_size=batch, epochs=epochs + 1, shuffle=False, verbose=0,
              callbacks=[timer])
    seconds = float(np.median(timer.times[1:]))  # epoch 0 compiles
    if shape == "triplet":  # FLOPs per patch: the shared descriptor, applied 3 times
        model = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    flops = forward_flops(model)
    return n * per_sample / seconds, flops


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--batch", type=int, default=None, help="override every model's batch")
    p.add_argument("--steps", type=int, default=50, help="steps per timed epoch")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (after a warm-up)")
    p.add_argument("--dtype", default="auto",
                   help="dtype policy: auto (mixed_bfloat16 on GPU, float32 on CPU), ...")
    p.add_argument("--steps-per-execution", type=int, default=1)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--no-jit", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke run")
    a = p.parse_args(argv)

    from helpers import env

    policy = env.choose_mixed_precision(a.dtype if a.dtype != "auto" else "auto")
    on_gpu = bool(env.accelerators())
    if a.quick:
        a.steps, a.epochs = 1, 1
    specs = _models()
    names = a.models or list(specs)
    unknown = set(names) - set(specs)
    if unknown:
        raise SystemExit(f"unknown models {sorted(unknown)}; have {list(specs)}")
    peak_dtype = "bfloat16" if on_gpu else "float32"
    peak = matmul_peak_tflops(peak_dtype, 8192 if on_gpu else 1024, 50 if on_gpu else 3)
    backend = keras.backend.backend()
    print(f"# backend={backend} device={env.device_description()} policy={policy} "
          f"matmul_peak_{peak_dtype}={peak:.2f} TFLOP/s", flush=True)
    for name in names:
        spec = specs[name]
        batch = a.batch or (2 if a.quick else spec[3])
        img_s, flops = measure(name, spec, batch, a.steps, a.epochs, a.steps_per_execution,
                               a.optimizer, False if a.no_jit else "auto")
        frac = 3 * flops * img_s / (peak * 1e12)
        mem = peak_memory_mb()
        print(f"RESULT {name} backend={backend} dtype={policy} batch={batch} "
              f"img_per_s={img_s:.0f} gflop_per_img={3 * flops / 1e9:.3f} "
              f"frac_peak={frac:.3f} peak_mem_mb={'n/a' if mem is None else f'{mem:.0f}'}",
              flush=True)


if __name__ == "__main__":
    main()
