import numpy as np
import pytest
from PIL import Image

from helpers.datasets import grayscale


def _write(folder, n=3, size=(50, 60)):
    folder.mkdir()
    rng = np.random.default_rng(0)
    imgs = {}
    for i in range(n):
        a = rng.integers(0, 256, size, dtype=np.uint8)
        Image.fromarray(a).save(folder / f"img{i:02d}.png")
        imgs[f"img{i:02d}"] = a
    return imgs


def test_read_folder_reads_pngs_in_order(tmp_path):
    imgs = _write(tmp_path / "train")
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "train" / "zz_colour.png")
    (tmp_path / "train" / "notes.txt").write_text("not an image")
    got = grayscale.read_folder(tmp_path / "train")
    assert list(got) == ["img00", "img01", "img02", "zz_colour"]
    for k, v in imgs.items():
        np.testing.assert_array_equal(got[k], v)
    assert got["zz_colour"].shape == (10, 10) and abs(int(got["zz_colour"][0, 0]) - 117) <= 1
    assert len(grayscale.read_folder(tmp_path / "train", max_images=2)) == 2


def test_missing_empty_and_corrupt_folders_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        grayscale.read_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        grayscale.read_folder(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="broken.png"):
        grayscale.read_folder(tmp_path / "bad")
    with pytest.raises(ValueError, match="both"):
        grayscale.load(train_dir=tmp_path)


def test_extract_patches_grid_and_content():
    img = np.arange(100 * 80, dtype=np.int64).reshape(100, 80) % 251
    img = img.astype(np.uint8)
    p = grayscale.extract_patches([img], size=40, stride=20, augment=False)
    assert p.shape == (4 * 3, 40, 40, 1) and p.dtype == np.uint8
    np.testing.assert_array_equal(p[0, ..., 0], img[:40, :40])
    np.testing.assert_array_equal(p[-1, ..., 0], img[60:100, 40:80])
    sub = grayscale.extract_patches([img], size=40, stride=20, augment=False, max_patches=5,
                                    rng=0)
    assert len(sub) == 5
    aug = grayscale.extract_patches([img], size=40, stride=20, augment=True, rng=1)
    for a, b in zip(aug[..., 0], p[..., 0]):
        assert any(np.array_equal(a, grayscale._dihedral(b, m)) for m in range(8))
    assert not np.array_equal(aug, p)
    with pytest.raises(ValueError, match="at least"):
        grayscale.extract_patches([img[:30, :30]], size=40)


def test_load_from_folders(tmp_path):
    _write(tmp_path / "Train", n=2, size=(80, 80))
    _write(tmp_path / "Test", n=1, size=(64, 48))
    data = grayscale.load(tmp_path / "Train", tmp_path / "Test", stride=20)
    assert data.train.shape == (2 * 9, 40, 40, 1)
    assert list(data.test) == ["img00"] and data.test["img00"].shape == (64, 48)
    assert "Train (2 images)" in data.source


def test_offline_default_is_labelled_and_disjoint():
    data = grayscale.load(stride=40, max_patches=200)
    assert data.source.startswith("offline stand-in")
    assert set(data.test) == set(grayscale.OFFLINE_TEST)
    assert data.train.shape == (200, 40, 40, 1) and data.train.dtype == np.uint8
    train, test = grayscale.offline_split()
    assert not set(train) & set(test) and "colorwheel" not in train
    assert data.train.std() > 10  # real photo content, not a constant
