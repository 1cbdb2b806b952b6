"""Data-parallel training on JAX with 4 simulated CPU devices matches one device."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("jax")

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np, keras
    import helpers
    cfg = helpers.setup(seed=0, distribute=sys.argv[2] == "1", banner=False)
    from helpers import scale
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("float32")[:, None]
    keras.utils.set_random_seed(0)
    with scale.scope():
        model = keras.Sequential([
            keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.BatchNormalization(), keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss="binary_crossentropy")
    hist = model.fit(x, y, batch_size=32, epochs=4, shuffle=False, verbose=0)
    print(json.dumps({"replicas": scale.replicas(), "loss": hist.history["loss"],
                      "distribution": cfg.distribution}))
""")


def _run(distribute: bool, devices: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), "1" if distribute else "0"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_data_parallel_loss_matches_single_device():
    single = _run(False, 1)
    parallel = _run(True, 4)
    assert single["replicas"] == 1 and single["distribution"] is None
    assert parallel["replicas"] == 4
    assert "DataParallel over 4 device(s)" in parallel["distribution"]
    assert parallel["loss"][-1] < parallel["loss"][0]
    np.testing.assert_allclose(parallel["loss"], single["loss"], rtol=1e-4, atol=1e-5)
