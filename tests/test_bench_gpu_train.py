"""bench/gpu_train.py: the FLOP counter on hand-computable layers, and a --quick smoke run."""

import os
import subprocess
import sys
from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gpu_train  # noqa: E402


def test_forward_flops_counts_conv_transposed_conv_and_dense():
    inp = keras.Input((10, 10, 8))
    x = keras.layers.Conv2D(16, 3, padding="same")(inp)             # 100 px * 3*3*8*16
    x = keras.layers.Conv2DTranspose(4, 2, strides=2)(x)            # 100 px * 2*2*4*16
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10)(x)                                 # 20*20*4 * 10
    model = keras.Model(inp, out)
    expected = 2 * (100 * 3 * 3 * 8 * 16 + 100 * 2 * 2 * 4 * 16 + 1600 * 10)
    assert gpu_train.forward_flops(model) == expected


def test_quick_run_prints_one_result_line_per_model():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_train.py"), "--quick",
                           "--models", "dncnn", "dae", "descriptor"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert [ln[1] for ln in lines] == ["dncnn", "dae", "descriptor"]
    for ln in lines:
        fields = dict(f.split("=") for f in ln[2:])
        assert fields["backend"] == "tensorflow" and fields["batch"] == "2"
        assert float(fields["img_per_s"]) > 0 and float(fields["gflop_per_img"]) > 0
