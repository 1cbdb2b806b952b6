"""setup(): flags, cache root choice, seeds, banner, config."""

import random

import numpy as np
import pytest

import helpers
from helpers import env


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False),
                                            ("", False), ("no", False)])
def test_flags_read_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("KIT_QUICK", value)
    monkeypatch.setenv("KIT_OFFLINE", value)
    assert env.is_quick() is expected and env.is_offline() is expected


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "mine"))
    assert env.default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("KIT_CACHE_DIR")
    monkeypatch.setattr(env, "in_kaggle", lambda: False)
    monkeypatch.setattr(env, "in_colab", lambda: False)
    assert env.default_cache_dir() == env.REPO_ROOT / "data_cache"
    monkeypatch.setattr(env, "in_colab", lambda: True)
    monkeypatch.setattr(env, "drive_mounted", lambda: True)
    assert env.default_cache_dir() == env.DRIVE_KIT_DIR / "data_cache"
    monkeypatch.setattr(env, "drive_mounted", lambda: False)  # Colab without Drive
    assert env.default_cache_dir() == env.REPO_ROOT / "data_cache"


def test_mount_drive_is_a_no_op_off_colab(monkeypatch):
    monkeypatch.setattr(env, "in_colab", lambda: False)
    monkeypatch.setattr(env, "drive_mounted", lambda: False)
    assert env.mount_drive() is False


def test_setup_returns_config_seeds_and_prints_banner(monkeypatch, capsys, kit_cache):
    monkeypatch.setenv("KIT_QUICK", "1")
    monkeypatch.delenv("KIT_OFFLINE", raising=False)
    cfg = helpers.setup(seed=7)
    first = (random.random(), np.random.rand())
    helpers.setup(seed=7, banner=False)
    assert (random.random(), np.random.rand()) == first
    out = capsys.readouterr().out
    assert cfg.quick and not cfg.offline and cfg.cache_dir == kit_cache
    assert kit_cache.is_dir()
    assert cfg.pick(100, 3) == 3
    assert cfg.backend in out and "QUICK" in out and str(kit_cache) in out
    assert "precision float32" in out and "CPU" in out
    assert env.current_config() is not None


def test_mixed_precision_is_float32_on_cpu_and_explicit_otherwise():
    import keras

    try:
        assert env.choose_mixed_precision("auto") == "float32"
        assert env.choose_mixed_precision("mixed_bfloat16") == "mixed_bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        env.choose_mixed_precision(False)
