"""The thin package behind the kit's notebooks.

    import helpers
    cfg = helpers.setup()          # banner, seeds, cache root, quick/offline flags

Submodules load on first use: ``helpers.cache``, ``helpers.training``, ``helpers.plots``,
``helpers.metrics``, ``helpers.noise``, ``helpers.datasets.<name>``, ...
"""

import importlib

from helpers.env import Config, is_offline, is_quick, setup

__all__ = ["Config", "setup", "is_quick", "is_offline"]


def __getattr__(name):
    try:
        return importlib.import_module(f"helpers.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"helpers.{name}":
            raise AttributeError(f"module 'helpers' has no attribute {name!r}") from None
        raise
