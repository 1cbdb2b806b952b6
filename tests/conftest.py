"""Shared fixtures: every unit test gets its own empty cache root."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def kit_cache(tmp_path, monkeypatch):
    """An empty cache root for the test; KIT_SHARED_CACHE unset."""
    root = tmp_path / "cache"
    monkeypatch.setenv("KIT_CACHE_DIR", str(root))
    monkeypatch.delenv("KIT_SHARED_CACHE", raising=False)
    return root
