"""Plots shared by the notebooks: captioned image grids, learning curves, confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def _as_display(img) -> tuple[np.ndarray, str | None]:
    """An image as matplotlib wants it: HxW (gray) or HxWx3, floats clipped to [0,1]."""
    a = np.asarray(img)
    if a.ndim == 1:  # a flattened square image (MNIST: 784 values)
        side = int(round(a.size ** 0.5))
        a = a.reshape(side, side)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float32), 0.0, 1.0)
    return a, ("gray" if a.ndim == 2 else None)


def image_grid(rows, *, row_titles=None, captions=None, col_titles=None, size: float = 1.8,
               suptitle: str | None = None):
    """Show rows of images (each row a list or array of images) with optional captions.

    ``captions[r][c]`` goes under image (r, c), e.g. the PSNR of a denoised image;
    ``row_titles`` label each row on the left (clean / noisy / denoised).
    Returns the figure.
    """
    rows = [list(r) for r in rows]
    nrows, ncols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.1),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c >= len(row):
                continue
            img, cmap = _as_display(row[c])
            ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=(255 if img.dtype ==
                      np.uint8 else 1) if cmap else None, interpolation="nearest")
            if captions is not None and captions[r] is not None and c < len(captions[r]):
                ax.set_xlabel(str(captions[r][c]), fontsize=8)
            if col_titles is not None and r == 0 and c < len(col_titles):
                ax.set_title(str(col_titles[c]), fontsize=9)
        if row_titles is not None:
            axes[r][0].set_ylabel(str(row_titles[r]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _history_dict(history) -> dict:
    if hasattr(history, "history"):  # a keras History
        return dict(history.history)
    if isinstance(history, (str, Path)):
        from helpers.training import load_history

        return load_history(history)
    return dict(history)


def plot_history(history, metrics=None, *, title: str | None = None, logy: bool = False):
    """Learning curves from a Keras History, a history dict, or a saved ``history.json``.

    One panel per metric (``loss`` first), training and ``val_`` curves together.
    """
    h = _history_dict(history)
    if metrics is None:
        metrics = [k for k in h if not k.startswith("val_") and k not in
                   ("epoch_seconds", "learning_rate", "lr")]
        metrics.sort(key=lambda k: (k != "loss", k))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        epochs = np.arange(1, len(h[m]) + 1)
        ax.plot(epochs, h[m], marker=".", label="train")
        if f"val_{m}" in h:
            ax.plot(epochs, h[f"val_{m}"], marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(cm, labels=None, *, normalize: bool = False, title: str | None = None,
                   ax=None):
    """A confusion matrix (rows: true class, columns: predicted), counts in each cell."""
    cm = np.asarray(cm, dtype=np.float64)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = cm.shape[0]
    labels = list(range(n)) if labels is None else list(labels)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.45 * n + 2.5, 0.45 * n + 2.0))
    else:
        fig = ax.figure
    im = ax.imshow(shown, cmap="Blues")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    thresh = shown.max() / 2 if shown.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
