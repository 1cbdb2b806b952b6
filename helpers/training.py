"""Train a Keras model once, cache it, and load it afterwards; resume an interrupted fit.

``train_or_load`` is the one call the notebooks use for every model. The model (``.keras``)
and its history (JSON) live in ``<cache>/models/<name>-<hash>/``. While ``fit`` runs, Keras'
``BackupAndRestore`` keeps a backup there, so re-running the cell after a disconnected
runtime continues from the last finished epoch; the history is logged epoch by epoch so
the resumed run's curves are complete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import keras

from helpers import cache


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    history: dict
    trained: bool  # False when a finished model was loaded from the cache
    path: Path
    seconds: float  # training time of this call (0 when loaded)
    resumed_from: int = 0  # first epoch run by this call (>0 after an interruption)


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_history(path) -> dict:
    """A saved history (``history.json``, or a model folder containing one) as a dict."""
    path = Path(path)
    if path.is_dir():
        path = path / "history.json"
    return json.loads(path.read_text())


class EpochLog(keras.callbacks.Callback):
    """Writes the history to JSON after every epoch; truncates it when a fit resumes."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.history: dict = load_history(self.path) if self.path.exists() else {}

    def on_epoch_begin(self, epoch, logs=None):
        # After a resume, epochs at or beyond `epoch` were not backed up: forget them.
        self.history = {k: v[:epoch] for k, v in self.history.items()}
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {**(logs or {}), "epoch_seconds": time.perf_counter() - self._start}
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        _atomic_json(self.path, self.history)


def model_dir(name: str, params: dict) -> Path:
    return cache.entry_dir(name, params, kind="models")


def load_model(path) -> keras.Model:
    """Load a ``.keras`` file with Keras' safe mode (no arbitrary code, no pickle)."""
    return keras.saving.load_model(str(path), safe_mode=True, compile=True)


def _save_model_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:6]}.keras")
    model.save(str(tmp))
    os.replace(tmp, path)


def train_or_load(name: str, params: dict, build: Callable[[], keras.Model], *,
                  epochs: int, retrain: bool = False, callbacks=(), verbose="auto",
                  **fit_kwargs) -> TrainResult:
    """Load the finished model for (name, params), or build, fit, save and return it.

    ``build()`` returns a compiled model. ``params`` must name everything that shapes the
    result (architecture, data, optimiser, epochs...). ``retrain=True`` discards a
    finished model and trains again. ``fit_kwargs`` go to ``model.fit`` (x, y,
    batch_size, validation_data, ...). An interrupted fit resumes where it stopped.
    """
    folder = model_dir(name, {**params, "epochs": epochs})
    model_path, hist_path = folder / "model.keras", folder / "history.json"
    done_flag = folder / "done.json"
    if done_flag.exists() and not retrain:
        try:
            model = load_model(model_path)
            history = load_history(hist_path)
            print(f"[models] loaded {folder.name} (trained {len(history.get('loss', []))} "
                  "epochs; set RETRAIN = True to train again)")
            return TrainResult(model, history, False, folder, 0.0)
        except Exception as exc:  # corrupt file: report and retrain, never use it
            print(f"[models] {folder.name} could not be loaded ({exc}); training again.")
            retrain = True
    if retrain and folder.exists():
        trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex[:6]}")
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)

    from helpers import scale

    with scale.scope():  # a tf.distribute scope under setup(distribute=True), else nothing
        model = build()
    backup_dir = folder / "backup"
    resumed = 0
    meta = backup_dir / "training_metadata.json"
    if meta.exists():
        try:
            resumed = int(json.loads(meta.read_text())["epoch"])
            print(f"[models] resuming {folder.name} from epoch {resumed}")
        except (ValueError, KeyError):
            pass
    _ensure_built(model, fit_kwargs)
    log = EpochLog(hist_path)
    cbs = [keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True),
           log, *callbacks]
    start = time.perf_counter()
    model.fit(epochs=epochs, callbacks=cbs, verbose=verbose, **fit_kwargs)
    seconds = time.perf_counter() - start
    _save_model_atomic(model, model_path)
    _atomic_json(done_flag, {"epochs": epochs, "params": cache._jsonable(params)})
    shutil.rmtree(backup_dir, ignore_errors=True)
    return TrainResult(model, log.history, True, folder, seconds, resumed)


def _ensure_built(model: keras.Model, fit_kwargs: dict) -> None:
    """BackupAndRestore needs a built model; build it from one sample of x if needed."""
    if model.built and model.weights:
        return
    x = fit_kwargs.get("x")
    if x is None:
        raise ValueError("train_or_load needs x= (or a model with an Input layer)")
    if isinstance(x, keras.utils.PyDataset):
        sample = x[0][0]
    else:
        sample = x[:1]
    model(sample)
