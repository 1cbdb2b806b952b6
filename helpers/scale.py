"""Data-parallel training with Keras' own engines, switched on by ``setup(distribute=True)``.

- JAX: ``keras.distribution.DataParallel`` over every local device (GPUs, TPU cores, or
  simulated CPU devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``).
- TensorFlow: ``TPUStrategy`` on a Colab TPU runtime, ``MirroredStrategy`` on several
  GPUs. Models must be built inside :func:`scope` (``train_or_load`` does this).
- PyTorch: Keras has no multi-device engine for it; training stays on one device.

No parallelism of our own: the batch is split across devices by the engine, gradients
are all-reduced by it, and the loss is the same as on one device up to rounding.
"""

from __future__ import annotations

import contextlib

import keras

_state: dict = {"strategy": None, "description": None}


def enable_data_parallel() -> str:
    """Turn on data parallelism for the current backend; returns a one-line description."""
    backend = keras.backend.backend()
    if backend == "jax":
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        desc = f"keras.distribution.DataParallel over {len(devices)} device(s)"
    elif backend == "tensorflow":
        import tensorflow as tf

        strategy = None
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            strategy = tf.distribute.TPUStrategy(resolver)
            kind = "TPUStrategy"
        except (ValueError, RuntimeError, tf.errors.NotFoundError):
            gpus = tf.config.list_logical_devices("GPU")
            strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else None
            kind = "MirroredStrategy"
        _state["strategy"] = strategy
        desc = (f"tf.distribute.{kind} with {strategy.num_replicas_in_sync} replicas"
                if strategy else "one device (no TPU and fewer than two GPUs)")
    else:
        desc = f"one device ({backend} has no Keras multi-device engine)"
    _state["description"] = desc
    return desc


def disable() -> None:
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(None)
    _state.update(strategy=None, description=None)


def replicas() -> int:
    """How many devices share each batch (1 without data parallelism)."""
    if keras.backend.backend() == "jax":
        dist = keras.distribution.distribution()
        return len(dist.device_mesh.devices.ravel()) if dist is not None else 1
    strategy = _state["strategy"]
    return strategy.num_replicas_in_sync if strategy is not None else 1


def scope():
    """Context in which to build and compile models (a tf.distribute scope, or nothing)."""
    strategy = _state["strategy"]
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
