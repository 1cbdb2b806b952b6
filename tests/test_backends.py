"""The kit on a second Keras backend: notebooks executed headless with KERAS_BACKEND=jax.

TensorFlow runs every notebook through nbval; here the tour and lesson 01 run on JAX with
the headless runner, the command the README gives for other backends.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("jax")


def test_notebooks_run_on_jax(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "KIT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "helpers", "run", "00", "01", "--quick",
                           "--offline"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith(("00_", "01_"))
            and "ipynb " in ln and ln.split()[1] in ("ok", "FAILED")]
    assert [(r[0][:2], r[1]) for r in rows] == [("00", "ok"), ("01", "ok")]
    executed = sorted((ROOT / "runs").glob("*/00_kit_tour.ipynb"))[-1].read_text()
    assert "backend   jax" in executed, "the banner must report the JAX backend"
