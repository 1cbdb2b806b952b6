"""Where the kit runs: Colab/Kaggle detection, Drive, flags, cache root, seeds, devices.

Every notebook calls :func:`setup` once, in its setup cell. Library code reads the flags
through :func:`is_quick` / :func:`is_offline` so it behaves the same with or without setup.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
KIT_NAME = "image-dl-kit"
DRIVE_MOUNT = Path("/content/drive")
DRIVE_KIT_DIR = DRIVE_MOUNT / "MyDrive" / KIT_NAME
COLAB_LOCAL_DIR = Path("/content/kit_local")

_TRUE = {"1", "true", "yes", "on"}
# Quiet TensorFlow's C++ start-up chatter in notebook outputs (must precede its import).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_state: dict = {}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_quick() -> bool:
    """`KIT_QUICK=1`: small sizes and few epochs, same code path (CI sets it)."""
    return _flag("KIT_QUICK")


def is_offline() -> bool:
    """`KIT_OFFLINE=1`: use the offline default data instead of downloading (CI sets it)."""
    return _flag("KIT_OFFLINE")


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def in_kaggle() -> bool:
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or Path("/kaggle/working").is_dir()


def drive_mounted() -> bool:
    return (DRIVE_MOUNT / "MyDrive").is_dir()


def mount_drive() -> bool:
    """Mount Google Drive on Colab once; returns True when Drive is available."""
    if drive_mounted():
        return True
    if not in_colab():
        return False
    try:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(str(DRIVE_MOUNT))
    except Exception as exc:  # the user may refuse the authorisation
        print(f"Drive not mounted ({exc}); caching on the runtime's local disk, "
              "which is lost when the runtime is recycled.")
        return False
    return drive_mounted()


def default_cache_dir() -> Path:
    """`KIT_CACHE_DIR`, else the kit folder on Drive (Colab), else `<repo>/data_cache`."""
    env = os.environ.get("KIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if in_colab() and drive_mounted():
        return DRIVE_KIT_DIR / "data_cache"
    if in_kaggle():
        return Path("/kaggle/working/data_cache")
    return REPO_ROOT / "data_cache"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras (which seeds the backend)."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import keras

    keras.utils.set_random_seed(seed)


def _gpu_memory_growth() -> None:
    """TensorFlow only: allocate GPU memory on demand instead of grabbing all of it."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth must be set before first use
            pass


def accelerators() -> list[str]:
    """Names of the accelerators the current backend sees ([] on a CPU)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            names = []
            for dev in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(dev)
                names.append(details.get("device_name", dev.name))
            names += [d.name for d in tf.config.list_logical_devices("TPU")]
            return names
        if backend == "jax":
            import jax

            return [f"{d.device_kind}" for d in jax.devices() if d.platform != "cpu"]
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:
        pass
    return []


def gpu_memory_gib() -> float | None:
    """Total memory of the first GPU in GiB, where the backend can tell."""
    try:
        import subprocess

        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()
        return float(out[0]) / 1024 if out else None
    except Exception:
        return None


def device_description() -> str:
    accs = accelerators()
    if not accs:
        return f"CPU ({os.cpu_count()} cores)"
    mem = gpu_memory_gib()
    more = f" x{len(accs)}" if len(accs) > 1 else ""
    return f"{accs[0]}{more}" + (f", {mem:.0f} GiB" if mem else "")


def choose_mixed_precision(mode: str | bool = "auto") -> str:
    """Set Keras' global dtype policy and return its name.

    "auto": mixed_bfloat16 on GPUs that support bf16 (Ampere and newer), mixed_float16
    on older GPUs (T4, V100), float32 on CPU. Models keep their last layer in float32.
    """
    import keras

    if mode is False or mode == "float32" or mode == "off":
        policy = "float32"
    elif mode is True or mode == "auto":
        accs = accelerators()
        if not accs:
            policy = "float32"
        elif any(k in accs[0] for k in ("T4", "V100", "P100", "K80")):
            policy = "mixed_float16"
        else:
            policy = "mixed_bfloat16"
    else:
        policy = str(mode)
    keras.mixed_precision.set_global_policy(policy)
    return policy


@dataclasses.dataclass
class Config:
    """What a notebook needs to know about where it runs; returned by :func:`setup`."""

    quick: bool
    offline: bool
    cache_dir: Path
    backend: str
    device: str
    precision: str
    seed: int
    on_colab: bool
    on_kaggle: bool
    distribution: object = None

    def pick(self, full, quick):
        """`full` normally, `quick` under KIT_QUICK=1 (sizes and epochs only)."""
        return quick if self.quick else full


def setup(seed: int = 0, *, mixed_precision: str | bool = "auto", distribute: bool = False,
          banner: bool = True) -> Config:
    """Prepare the runtime for a notebook and print a one-glance banner.

    Mounts Drive on Colab (once), chooses the cache root, reads KIT_QUICK/KIT_OFFLINE,
    seeds everything, enables GPU memory growth (TensorFlow), sets the precision policy,
    and, with ``distribute=True``, trains data-parallel on all local accelerators.
    """
    on_colab = in_colab()
    if on_colab:
        mount_drive()
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
    cache_dir = default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ["KIT_CACHE_DIR"] = str(cache_dir)

    import keras

    _gpu_memory_growth()
    seed_everything(seed)
    precision = choose_mixed_precision(mixed_precision)
    distribution = None
    if distribute:
        from helpers import scale

        distribution = scale.enable_data_parallel()

    cfg = Config(
        quick=is_quick(), offline=is_offline(), cache_dir=cache_dir,
        backend=keras.backend.backend(), device=device_description(), precision=precision,
        seed=seed, on_colab=on_colab, on_kaggle=in_kaggle(), distribution=distribution,
    )
    _state["config"] = cfg
    if banner:
        print(banner_text(cfg))
    return cfg


def banner_text(cfg: Config) -> str:
    import keras

    versions = [f"keras {keras.__version__}", f"numpy {np.__version__}"]
    if cfg.backend == "tensorflow":
        import tensorflow as tf

        versions.insert(0, f"tensorflow {tf.__version__}")
    elif cfg.backend == "jax":
        import jax

        versions.insert(0, f"jax {jax.__version__}")
    elif cfg.backend == "torch":
        import torch

        versions.insert(0, f"torch {torch.__version__}")
    where = "Colab" if cfg.on_colab else "Kaggle" if cfg.on_kaggle else "local"
    modes = [m for m, on in (("QUICK", cfg.quick), ("OFFLINE", cfg.offline)) if on]
    lines = [
        f"backend   {cfg.backend} ({', '.join(versions)})",
        f"device    {cfg.device}"
        + ("  <- no GPU: training cells will be slow" if cfg.device.startswith("CPU") else ""),
        f"precision {cfg.precision}",
        f"cache     {cfg.cache_dir} [{where}]",
        f"modes     {' '.join(modes) if modes else 'full'}   seed {cfg.seed}",
    ]
    if cfg.distribution is not None:
        lines.append(f"parallel  {cfg.distribution}")
    width = max(len(s) for s in lines)
    return "\n".join(["=" * width, *lines, "=" * width])


def current_config() -> Config | None:
    return _state.get("config")
