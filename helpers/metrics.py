"""Image-quality and classification metrics (notebooks 02-07).

PSNR and SSIM work on batches (NHWC or NHW), uint8 or float in [0,1], and return one value
per image; take ``.mean()`` for the usual figure.
"""

from __future__ import annotations

import numpy as np


def _to_unit(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32, copy=False)


def psnr(reference, estimate, peak: float = 1.0) -> np.ndarray:
    """Per-image PSNR in dB: ``10 log10(peak^2 / MSE)``, images scaled to [0,1] (uint8 /255).

    Axis 0 is the batch (pass ``x[None]`` for one image); the MSE is over all other axes.
    """
    ref, est = _to_unit(reference), _to_unit(estimate)
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {est.shape}")
    axes = tuple(range(1, ref.ndim))
    mse = np.mean((ref - est) ** 2, axis=axes, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak**2 / mse)


def ssim(reference, estimate) -> np.ndarray:
    """Per-image SSIM (Wang et al. 2004, scikit-image's Gaussian-window implementation).

    Batches of NHW or NHWC images; axis 0 is the batch.
    """
    from skimage.metrics import structural_similarity

    ref, est = _to_unit(reference), _to_unit(estimate)
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {est.shape}")
    if ref.ndim == 4 and ref.shape[-1] == 1:
        ref, est = ref[..., 0], est[..., 0]
    channel_axis = -1 if ref.ndim == 4 else None
    return np.array([
        structural_similarity(r, e, data_range=1.0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, channel_axis=channel_axis)
        for r, e in zip(ref, est)
    ])


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts[i, j] of true class i predicted as j."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n = n_classes or int(max(y_true.max(), y_pred.max())) + 1
    return np.bincount(y_true * n + y_pred, minlength=n * n).reshape(n, n)


def classification_report(y_true, y_pred, n_classes: int | None = None) -> dict:
    """Accuracy and per-class precision / recall / F1 / support, from the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {"accuracy": float(tp.sum() / cm.sum()), "precision": precision, "recall": recall,
            "f1": f1, "support": cm.sum(axis=1).astype(int), "confusion": cm.astype(int)}


def report_table(report: dict, labels=None) -> str:
    """The per-class table of :func:`classification_report` as aligned text."""
    n = len(report["precision"])
    labels = [str(i) for i in range(n)] if labels is None else [str(x) for x in labels]
    lines = [f"{'class':>6} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for i in range(n):
        lines.append(f"{labels[i]:>6} {report['precision'][i]:9.3f} {report['recall'][i]:7.3f} "
                     f"{report['f1'][i]:6.3f} {report['support'][i]:8d}")
    lines.append(f"{'mean':>6} {report['precision'].mean():9.3f} {report['recall'].mean():7.3f} "
                 f"{report['f1'].mean():6.3f} {report['support'].sum():8d}")
    lines.append(f"accuracy {report['accuracy']:.4f}")
    return "\n".join(lines)


def most_confused(cm, k: int = 5) -> list[tuple[int, int, int]]:
    """The k largest off-diagonal cells as (true, predicted, count), largest first."""
    cm = np.asarray(cm).copy()
    np.fill_diagonal(cm, 0)
    order = np.argsort(cm, axis=None)[::-1][:k]
    return [(int(i), int(j), int(cm[i, j])) for i, j in zip(*np.unravel_index(order, cm.shape))
            if cm[i, j] > 0]
