"""GRNN infill speed: the report's per-pixel loop vs the kit's vectorised infill (notebook 07).

Both fill the SAME crops from the SAME key pixels (stand-in SVHN crops, 32x32 colour, key
pixels from a histogram bucket of a local mean-minus-std map, on the every-third-pixel
grid plus corners), checks that they agree, and prints

    RESULT speedup_vs_report_loop=<x> ms_per_crop=<m>

Targets: >= 100x and < 10 ms per 32x32 crop on one CPU core. Run pinned to one core:

    taskset -c 0 python bench/infill.py [--crops 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core: no BLAS threads

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from helpers import grnn  # noqa: E402
from helpers.datasets import svhn  # noqa: E402


def key_masks(crops: np.ndarray) -> np.ndarray:
    """Key pixels without a classifier: mean minus std of the 3x3 neighbourhood's luma."""
    from scipy.ndimage import uniform_filter

    y = crops.astype(np.float64) @ svhn.LUMA
    mean = uniform_filter(y, size=(1, 3, 3))
    std = np.sqrt(np.maximum(uniform_filter(y**2, size=(1, 3, 3)) - mean**2, 0))
    return grnn.grid_mask(grnn.bucket_mask(mean - std, 35), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    crops, _ = svhn.synthetic_digits(args.crops, seed=123)
    keys = key_masks(crops)
    print(f"{args.crops} crops 32x32x3, {keys.sum(axis=(1, 2)).mean():.1f} key pixels each; "
          f"cpu affinity {sorted(os.sched_getaffinity(0))}")

    t = time.perf_counter()
    ref = np.stack([grnn.grnn_infill_loop(c, k) for c, k in zip(crops, keys)])
    t_loop = (time.perf_counter() - t) / args.crops

    fast = grnn.grnn_infill(crops, keys)  # warm-up
    best = np.inf
    for _ in range(args.repeat):
        t = time.perf_counter()
        fast = grnn.grnn_infill(crops, keys)
        best = min(best, time.perf_counter() - t)
    t_fast = best / args.crops
    err = float(np.abs(fast - ref).max())
    print(f"report loop: {t_loop * 1e3:.1f} ms/crop; vectorised: {t_fast * 1e3:.3f} ms/crop "
          f"(best of {args.repeat}); max |difference| = {err:.2e} grey levels")
    if err > 1e-2:
        raise SystemExit("the two infills disagree")
    print(f"RESULT speedup_vs_report_loop={t_loop / t_fast:.1f} ms_per_crop={t_fast * 1e3:.3f}")


if __name__ == "__main__":
    main()
