"""helpers.images: robust decoding of JPEG/PNG bytes, with exact convert and skip counts."""

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from helpers import images


def encode(array_or_image, fmt="JPEG", **kwargs) -> bytes:
    img = array_or_image if isinstance(array_or_image, Image.Image) else \
        Image.fromarray(array_or_image)
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def photo(h=90, w=120, seed=0):
    """A smooth colourful test picture (JPEG-friendly)."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6, 3)
    rgb = [127 + 120 * np.sin(xx / 11 + yy / 17 + p) for p in phase]
    return np.clip(np.stack(rgb, -1), 0, 255).astype(np.uint8)


def bad_fixture_files() -> dict[str, bytes]:
    """One file of every kind a real crawl contains, with the kind it must be counted as."""
    rgb = photo()
    jpeg = encode(rgb, quality=90)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:, :30, 3] = 0
    return {
        "ok/a.jpg": jpeg,
        "ok/b.jpg": encode(photo(seed=1)),
        "ok/c.png": encode(photo(seed=2), "PNG"),
        "grayscale/l.jpg": encode(rgb[..., 1]),
        "grayscale/la.png": encode(Image.fromarray(rgb[..., 0]).convert("LA"), "PNG"),
        "grayscale/i16.png": encode(Image.fromarray(rgb[..., 2].astype(np.uint16) * 257),
                                    "PNG"),
        "cmyk/c.jpg": encode(Image.fromarray(rgb).convert("CMYK"), quality=95),
        "palette/p.png": encode(Image.fromarray(rgb).convert("P"), "PNG"),
        "palette/p_transparent.png": encode(Image.fromarray(rgb).convert("P"), "PNG",
                                            transparency=0),
        "alpha/rgba.png": encode(rgba, "PNG"),
        "unreadable/garbage.jpg": b"\x00\x01not an image at all" * 20,
        "unreadable/empty.jpg": b"",
        "truncated/half.jpg": jpeg[: len(jpeg) // 2],
        "truncated/cut.png": encode(rgb, "PNG")[:-300],
        "too_small/thumb.jpg": encode(photo(40, 60)),
    }


EXPECTED = {"ok": 3, "grayscale": 3, "cmyk": 1, "palette": 2, "alpha": 1, "other_mode": 0,
            "unreadable": 2, "truncated": 2, "too_small": 1}


def test_every_bad_kind_is_counted_exactly(tmp_path):
    for name, blob in bad_fixture_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(blob)
    counts = images.DecodeCounts()
    decoded = list(images.decode_stream(images.iter_folder(tmp_path), 64, counts))
    assert counts.as_dict() == EXPECTED
    assert counts.kept == 10 and counts.skipped == 5
    assert len(decoded) == 10
    for name, img in decoded:
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8, name
        assert name.split("/")[0] in ("ok", "grayscale", "cmyk", "palette", "alpha")
    kept_gray = [img for name, img in decoded if name.startswith("grayscale")]
    for img in kept_gray:  # grayscale converted to three equal channels
        assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])
    assert "skipped" in counts.summary() and "too_small 1" in counts.summary()


def test_each_kind_individually():
    for name, blob in bad_fixture_files().items():
        img, kind = images.decode_square(blob, 64)
        assert kind == name.split("/")[0], name
        assert (img is None) == (kind in images.SKIPPED), name


def test_centre_crop_and_area_filter():
    # 64 x 96 image: the centre square is columns 16..79; 2x2 area means give 32 x 32
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    out, kind = images.decode_square(encode(img, "PNG"), 32)
    assert kind == "ok"
    crop = img[:, 16:80].astype(float)
    expected = crop.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    assert np.abs(out - expected).max() <= 1.0
    # a portrait image is cropped in the middle vertically
    tall = np.zeros((100, 50, 3), np.uint8)
    tall[25:75] = 200
    out, _ = images.decode_square(encode(tall, "PNG"), 50)
    assert out.min() == 200


def test_alpha_is_composited_on_white_and_cmyk_keeps_colours():
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 40:, 3] = 255  # left half fully transparent
    out, kind = images.decode_square(encode(rgba, "PNG"), 80)
    assert kind == "alpha"
    assert (out[:, :40] == 255).all() and (out[:, 40:] == [200, 0, 0]).all()
    red = np.zeros((80, 80, 3), np.uint8)
    red[...] = (200, 60, 40)
    out, kind = images.decode_square(encode(Image.fromarray(red).convert("CMYK"),
                                            quality=95), 64)
    assert kind == "cmyk"
    assert np.abs(out.reshape(-1, 3).mean(0) - [200, 60, 40]).max() < 8


def test_exif_orientation_is_applied():
    img = np.zeros((80, 120, 3), np.uint8)
    img[:, :60] = (255, 0, 0)
    img[:, 60:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the left half becomes the top
    out, kind = images.decode_square(encode(Image.fromarray(img), quality=95,
                                            exif=exif.tobytes()), 40)
    assert kind == "ok"
    assert out[2, :, 0].mean() > 200 and out[-3, :, 2].mean() > 200


def test_draft_decoding_of_large_jpeg_matches_full_decoding():
    yy, xx = np.mgrid[0:768, 0:1024]  # smooth content: the two filters agree on it
    big = np.stack([127 + 100 * np.sin(xx / 80 + yy / 120 + p) for p in (0, 1, 2)], -1)
    blob = encode(np.clip(big, 0, 255).astype(np.uint8), quality=92)
    fast, kind = images.decode_square(blob, 64)
    full = Image.open(io.BytesIO(blob)).convert("RGB")
    ref = np.asarray(full.resize((64, 64), Image.Resampling.BOX, box=(128, 0, 896, 768)))
    assert kind == "ok"
    assert np.abs(fast.astype(float) - ref).mean() < 4.0


def test_random_corruption_never_raises_and_flag_is_restored():
    blob = encode(photo(), quality=90)
    rng = np.random.default_rng(0)
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        assert images.decode_square(blob[: len(blob) // 2], 64)[1] == "truncated"
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    for _ in range(30):
        data = bytearray(blob)
        pos = rng.integers(0, len(data), 20)
        data[pos[0]:pos[0] + 1] = b""  # drop a byte
        for p in pos[1:]:
            data[min(p, len(data) - 1)] = int(rng.integers(256))
        img, kind = images.decode_square(bytes(data), 64)
        assert kind in ("ok", *images.SKIPPED)
        assert img is None or img.shape == (64, 64, 3)


def test_iter_folder_order_and_errors(tmp_path):
    for name in ("b/2.jpg", "a/1.JPG", "a/z.txt", "c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    assert [n for n, _ in images.iter_folder(tmp_path)] == ["a/1.JPG", "b/2.jpg", "c.png"]
    with pytest.raises(FileNotFoundError):
        list(images.iter_folder(tmp_path / "missing"))
