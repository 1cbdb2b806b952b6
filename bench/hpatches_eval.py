"""Time a full HPatches evaluation (verification, matching, retrieval) of one split.

The patch set has the real benchmark's shape: ``--sequences`` test sequences of 16 images
with ``--keypoints`` keypoints each (split 'a' of the real release: 40 test sequences,
about 1,300 keypoints on average), 128-d float32 descriptors, 100,000 verification pairs
per level and negative type, 5,000 retrieval queries against 20,000 distractors at the
seven pool sizes. Descriptors are synthetic (a vector per keypoint plus noise that grows
from easy to tough) because the timing does not depend on what they are; the figures
printed are checked to sit between 0 and 1 and to fall from easy to tough.

As a reference measured in the same run, the benchmark's own way of scoring retrieval (one
query at a time, distances of that query to every distractor) runs on ``--loop-queries``
queries; the ratio of per-query times is printed.

    python bench/hpatches_eval.py                 # >= 30,000 patches (640,000 by default)
    python bench/hpatches_eval.py --keypoints 200 # a lighter run (128,000 patches)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import hpatches as hp  # noqa: E402


def synthetic_descriptors(n_seq: int, n_kp: int, dim: int = 128, seed: int = 0):
    rng = np.random.default_rng(seed)
    counts = np.full(n_seq, n_kp)
    offsets = np.arange(n_seq) * 16 * n_kp
    keys = rng.normal(size=(n_seq, 1, n_kp, dim)).astype(np.float32)
    noise = np.array([0.6] + [0.9] * 5 + [1.3] * 5 + [1.8] * 5, np.float32)[None, :, None, None]
    desc = keys + noise * rng.normal(size=(n_seq, 16, n_kp, dim)).astype(np.float32)
    return desc.reshape(-1, dim), offsets, counts


def loop_retrieval(desc, offsets, counts, task, pool: int = 20000) -> float:
    """The per-query loop of the benchmark's reference code, easy level, one pool size."""
    aps = []
    for qs, qi in zip(task["q_seq"], task["q_idx"]):
        q = desc[offsets[qs] + qi]
        mask = task["d_seq"] != qs
        dis = desc[offsets[task["d_seq"][mask]] + task["d_idx"][mask]]
        d_dis = np.sqrt(((dis - q) ** 2).sum(1))[:pool - 5]
        pos = np.array([np.sqrt(((desc[offsets[qs] + t * counts[qs] + qi] - q) ** 2).sum())
                        for t in range(1, 6)])
        d = np.r_[pos, d_dis]
        y = np.r_[np.ones(5), np.zeros(len(d_dis))]
        aps.append(hp.average_precision(d, y))
    return float(np.mean(aps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=40)
    parser.add_argument("--keypoints", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--distractors", type=int, default=20000)
    parser.add_argument("--loop-queries", type=int, default=200)
    args = parser.parse_args()

    desc, offsets, counts = synthetic_descriptors(args.sequences, args.keypoints)
    n = len(desc)
    if n < 30_000:
        print(f"warning: {n} patches, fewer than the 30,000 this benchmark is meant for")
    print(f"patch set: {args.sequences} sequences x 16 images x {args.keypoints} keypoints = "
          f"{n:,} descriptors of {desc.shape[1]} floats")

    start = time.perf_counter()
    res = hp.evaluate(desc, offsets, counts, n_pairs=args.pairs, n_queries=args.queries,
                      n_distractors=args.distractors)
    seconds = time.perf_counter() - start
    print(hp.per_level_table(res))
    s = hp.summary(res)
    print("single numbers:", {k: round(v, 4) for k, v in s.items()})
    assert all(0.0 <= v <= 1.0 for v in s.values())
    assert res["matching"]["e"] > res["matching"]["t"], "easy should match better than tough"

    # per-query speed of retrieval: vectorised vs the reference loop, same queries
    task = hp.retrieval_task(offsets, counts, n_queries=args.loop_queries,
                             n_distractors=args.distractors)
    t0 = time.perf_counter()
    pool = min(10000, len(task["d_seq"]))
    vec = hp.retrieval(desc, offsets, counts, task=task, pool_sizes=(pool,))
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = loop_retrieval(desc, offsets, counts, task, pool=pool)
    t_loop = time.perf_counter() - t0
    vec_e = vec["e"][pool]
    assert abs(vec_e - ref) < 1e-4, (vec_e, ref)
    print(f"retrieval, {args.loop_queries} queries, pool {pool}: vectorised "
          f"(all 3 levels) {t_vec:.2f} s, reference loop (1 level) {t_loop:.2f} s; "
          f"ratio loop/vectorised per level = {t_loop / (t_vec / 3):.1f}x (same AP {ref:.4f})")
    print(f"RESULT seconds={seconds:.2f} patches={n}")


if __name__ == "__main__":
    main()
