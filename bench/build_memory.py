"""Benchmark: peak memory (RSS) while building a landmarks dataset through the cache.

    python bench/build_memory.py [--images 50000] [--size 128] [--cache-dir DIR]

Builds ``images`` images at ``size`` x ``size`` with the offline stand-in (crops of
scikit-image's photographs written as JPEG files, then decoded by the same streamed
folder code as the real shards) in a temporary cache, and prints the process's peak
resident memory. The issue's target: 50,000 images at 128x128 (2.4 GB of uint8 pixels)
peak below 3 GB. Prints:

    RESULT peak_rss_mb=<m> images=<n> size=<s>
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--size", type=int, default=128, choices=(64, 128))
    parser.add_argument("--cache-dir", default=None,
                        help="cache root to build in (default: a temporary folder, removed)")
    args = parser.parse_args()
    root = Path(args.cache_dir or tempfile.mkdtemp(prefix="kit_build_memory_"))
    os.environ["KIT_CACHE_DIR"] = str(root)
    try:
        import numpy as np

        from helpers.datasets import landmarks

        after_import = peak_rss_mb()
        n_test = min(375, args.images // 10)
        preset = "report128" if args.size == 128 else "report64"
        start = time.perf_counter()
        data = landmarks.load(preset, n_train=args.images - n_test, n_test=n_test,
                              offline=True)
        seconds = time.perf_counter() - start
        total = sum(len(a) for a in data.values())
        assert total == args.images, (total, args.images)
        assert all(a.shape[1:] == (args.size, args.size, 3) and a.dtype == np.uint8
                   for a in data.values())
        print(f"built {total} images of {args.size}x{args.size} in {seconds:.0f} s: "
              f"{data.nbytes / 2**20:.0f} MiB of pixels; peak RSS after imports "
              f"{after_import:.0f} MiB; {data.meta['decode_summary']}")
        print(f"RESULT peak_rss_mb={peak_rss_mb():.0f} images={total} size={args.size}")
    finally:
        if args.cache_dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
