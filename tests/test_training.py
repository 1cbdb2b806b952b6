"""train_or_load: trains once, loads after, retrains on request, resumes a killed fit."""

import os
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np

from helpers import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    return x, y


def _build():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_trains_once_then_loads_identical_model():
    x, y = _data()
    first = training.train_or_load("lin", {"v": 1}, _build, epochs=3, x=x, y=y,
                                   batch_size=16, verbose=0)
    assert first.trained and len(first.history["loss"]) == 3
    assert first.history["loss"][-1] < first.history["loss"][0]
    second = training.train_or_load("lin", {"v": 1}, _build, epochs=3, x=x, y=y,
                                    batch_size=16, verbose=0)
    assert not second.trained
    assert second.history["loss"] == first.history["loss"]
    np.testing.assert_allclose(second.model.predict(x, verbose=0),
                               first.model.predict(x, verbose=0), rtol=0, atol=0)


def test_retrain_and_changed_params_train_again():
    x, y = _data()
    a = training.train_or_load("lin", {"v": 1}, _build, epochs=2, x=x, y=y, verbose=0)
    b = training.train_or_load("lin", {"v": 1}, _build, epochs=2, retrain=True, x=x, y=y,
                               verbose=0)
    c = training.train_or_load("lin", {"v": 2}, _build, epochs=2, x=x, y=y, verbose=0)
    assert a.trained and b.trained and c.trained
    assert c.path != a.path and b.path == a.path


def test_corrupt_saved_model_is_retrained_not_used(capsys):
    x, y = _data()
    a = training.train_or_load("lin", {"v": 3}, _build, epochs=2, x=x, y=y, verbose=0)
    (a.path / "model.keras").write_bytes(b"this is not a zip file")
    b = training.train_or_load("lin", {"v": 3}, _build, epochs=2, x=x, y=y, verbose=0)
    assert b.trained
    assert "could not be loaded" in capsys.readouterr().out


def test_killed_fit_resumes_from_last_finished_epoch(kit_cache):
    """A fit SIGKILLed after epoch 3 of 6 resumes at epoch 3 with the earlier history kept."""
    script = textwrap.dedent("""
        import os, signal, sys
        sys.path.insert(0, sys.argv[1])
        import keras
        sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
        from test_training import _build, _data
        from helpers import training

        class Die(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 2:  # after the third epoch has been backed up
                    print("dying", flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)

        x, y = _data()
        training.train_or_load("resume", {"v": 1}, _build, epochs=6, x=x, y=y,
                               batch_size=16, verbose=0, callbacks=[Die()])
    """)
    env = {**os.environ, "KIT_CACHE_DIR": str(kit_cache)}
    proc = subprocess.run([sys.executable, "-c", script, ROOT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    folder = training.model_dir("resume", {"v": 1, "epochs": 6})
    assert not (folder / "done.json").exists()
    before = training.load_history(folder / "history.json")
    assert len(before["loss"]) == 3

    x, y = _data()
    result = training.train_or_load("resume", {"v": 1}, _build, epochs=6, x=x, y=y,
                                    batch_size=16, verbose=0)
    assert result.trained and result.resumed_from == 3
    assert len(result.history["loss"]) == 6
    assert result.history["loss"][:3] == before["loss"]
    # the resumed run started from the backed-up weights, not from scratch: its first
    # epoch is better than the very first epoch of the interrupted run
    assert result.history["loss"][3] < before["loss"][0]
    assert not (folder / "backup").exists()
    again = training.train_or_load("resume", {"v": 1}, _build, epochs=6, x=x, y=y, verbose=0)
    assert not again.trained


def test_epoch_log_truncates_history_on_resume(tmp_path):
    log = training.EpochLog(tmp_path / "h.json")
    for e in range(4):
        log.on_epoch_begin(e)
        log.on_epoch_end(e, {"loss": float(e)})
    resumed = training.EpochLog(tmp_path / "h.json")
    resumed.on_epoch_begin(2)
    resumed.on_epoch_end(2, {"loss": 9.0})
    assert training.load_history(tmp_path / "h.json")["loss"] == [0.0, 1.0, 9.0]
