"""Plots: grids with captions, learning curves from a saved history, confusion matrices."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from helpers import plots  # noqa: E402


def test_image_grid_places_images_and_captions():
    rng = np.random.default_rng(0)
    rows = [rng.random((3, 8, 8, 3)), (rng.random((3, 8, 8, 1)) * 255).astype(np.uint8),
            rng.random((2, 64))]
    fig = plots.image_grid(rows, row_titles=["clean", "noisy", "flat"],
                           captions=[None, ["a", "b", "c"], ["x", "y"]])
    axes = fig.axes
    assert len(axes) == 9
    assert [ax.get_xlabel() for ax in axes[3:6]] == ["a", "b", "c"]
    assert axes[0].get_ylabel() == "clean" and axes[6].get_ylabel() == "flat"
    assert axes[6].images[0].get_array().shape == (8, 8)  # 64 values shown as 8x8
    assert not axes[8].images  # missing image left blank
    plt.close(fig)


def test_plot_history_from_saved_json(tmp_path):
    hist = {"loss": [3, 2, 1], "val_loss": [3.5, 2.5, 2], "accuracy": [0.1, 0.5, 0.7],
            "epoch_seconds": [1, 1, 1]}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(hist))
    fig = plots.plot_history(path)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), [3.5, 2.5, 2])
    plt.close(fig)


def test_plot_confusion_writes_counts():
    cm = np.array([[5, 1], [2, 7]])
    fig = plots.plot_confusion(cm, labels=["a", "b"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["5", "1", "2", "7"]
    plt.close(fig)
    fig = plots.plot_confusion(cm, normalize=True)
    assert fig.axes[0].texts[0].get_text() == "0.83"
    plt.close(fig)
