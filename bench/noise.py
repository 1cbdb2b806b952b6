"""Benchmark: the report's per-pixel noise loop against the kit's vectorised noise models.

    taskset -c 0 python bench/noise.py [--images 11000]

Both run in this one process, on one core, on the same inputs: the report's 11,000
64x64x3 uint8 images (crops of scikit-image's bundled photographs). The report's code is
reproduced as it worked: a Python double loop over each image's pixels drawing
``random.randrange(intensity)`` per pixel (0 -> black, 1 -> white), and for the composite,
``scipy.ndimage.gaussian_filter(image, 1)`` on each HxWxC image before the loop. The kit's
figures are the best of three runs of ``helpers.noise.salt_and_pepper`` and
``helpers.noise.blur_salt_pepper``. Prints:

    RESULT speedup_vs_report_loop=<x> seconds_11000x64x64x3=<s> cpu_speedup=... cpu_seconds=...
    RESULT composite_speedup=<x> composite_seconds=<s> composite_cpu_speedup=... ...

Wall-clock figures are the headline; the CPU-time figures next to them show what the process
itself used, which stays meaningful when other jobs share the core.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: no BLAS threads either

import argparse  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers import noise  # noqa: E402
from helpers.datasets import photos  # noqa: E402


def report_salt_pepper(images, intensity=35):
    """The report's loop: one Python random draw per pixel, all channels set at once."""
    out = images.copy()
    for img in out:
        height, width = img.shape[:2]
        for i in range(height):
            for j in range(width):
                r = random.randrange(intensity)
                if r == 0:
                    img[i, j] = 0
                elif r == 1:
                    img[i, j] = 255
    return out


def report_composite(images, sigma=1.0, intensity=35):
    """The report's composite: gaussian_filter on each HxWxC image, then the loop."""
    blurred = np.stack([ndimage.gaussian_filter(img, sigma) for img in images])
    return report_salt_pepper(blurred, intensity)


def photo_crops(n, size=64, seed=0):
    rng = np.random.default_rng(seed)
    pool = list(photos.rgb_photos().values())
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        img = pool[k % len(pool)]
        top = rng.integers(0, img.shape[0] - size + 1)
        left = rng.integers(0, img.shape[1] - size + 1)
        out[k] = img[top:top + size, left:left + size]
    return out


def timed(func, repeat=1):
    """(best wall seconds, CPU seconds of that run, result) over ``repeat`` runs."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if wall < best:
            best, best_cpu = wall, cpu
    return best, best_cpu, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=11000)
    args = parser.parse_args()
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as documented
    x = photo_crops(args.images)
    random.seed(0)
    loop_s, loop_cpu, loop_out = timed(lambda: report_salt_pepper(x))
    kit_s, kit_cpu, kit_out = timed(lambda: noise.salt_and_pepper(x, 35, rng=0), repeat=3)
    changed = [(o != x).any(-1).mean() for o in (loop_out, kit_out)]
    print(f"salt and pepper on {x.shape}: report loop {loop_s:.2f} s, kit {kit_s:.3f} s; "
          f"changed pixels {changed[0]:.4f} (loop) / {changed[1]:.4f} (kit), 2/35 = "
          f"{2 / 35:.4f}")
    comp_loop_s, comp_loop_cpu, _ = timed(lambda: report_composite(x))
    comp_kit_s, comp_kit_cpu, _ = timed(lambda: noise.blur_salt_pepper(x, 1.0, 35, rng=0),
                                        repeat=3)
    exact_s, _, _ = timed(lambda: noise.blur_salt_pepper(x, 1.0, 35, rng=0,
                                                      across_channels=True), repeat=3)
    print(f"composite (blur sigma 1 + salt and pepper): report {comp_loop_s:.2f} s, kit "
          f"{comp_kit_s:.3f} s (spatial blur), {exact_s:.3f} s (the report's across-channel "
          "blur)")
    print(f"CPU seconds (what this process used; lower than wall time on a busy machine): "
          f"loop {loop_cpu:.2f}, kit {kit_cpu:.3f}; composite loop {comp_loop_cpu:.2f}, "
          f"kit {comp_kit_cpu:.3f}")
    print(f"RESULT speedup_vs_report_loop={loop_s / kit_s:.1f} "
          f"seconds_{args.images}x64x64x3={kit_s:.3f} cpu_speedup={loop_cpu / kit_cpu:.1f} "
          f"cpu_seconds={kit_cpu:.3f}")
    print(f"RESULT composite_speedup={comp_loop_s / comp_kit_s:.1f} "
          f"composite_seconds={comp_kit_s:.3f} composite_cpu_speedup="
          f"{comp_loop_cpu / comp_kit_cpu:.1f} composite_cpu_seconds={comp_kit_cpu:.3f}")


if __name__ == "__main__":
    main()
