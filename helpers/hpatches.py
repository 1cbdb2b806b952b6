"""The HPatches benchmark tasks on descriptors of a patch set (notebook 05, bench/).

Protocol of Balntas et al., "HPatches" (CVPR 2017) and the benchmark's task definitions
(github.com/hpatches/hpatches-benchmark, ``docs/tasks.md``):

- verification: pairs of patches, positives (same keypoint, two images of the level),
  negatives from the same sequence (``intra``) or another one (``inter``). Balanced set
  (as many negatives as positives): ROC AUC. Imbalanced set (all negatives, a fifth of
  the positives): average precision.
- matching: for each sequence and target image, each reference patch's nearest neighbour
  among the target's patches; a match is right when it is the same keypoint; AP of the
  matches ranked by distance, the recall counted over all reference patches.
- retrieval: a reference patch queries a pool of its 5 positives (same keypoint in the
  level's five targets) and reference patches of other sequences; AP at pool sizes
  100 ... 20,000 (a pool holds at most what the distractor list offers).

Descriptors are compared with the Euclidean distance; every distance matrix is one matrix
product (``|a|^2 + |b|^2 - 2 a.b``), never a Python loop over patches.

AP here is the usual non-interpolated average precision (mean of the precision at the
rank of each positive; with ``numpos`` larger than the positives found, the missing ones
count as zero). The benchmark's own code integrates the precision-recall curve with the
trapezoid rule, which gives nearly the same figures.

Patch rows follow :mod:`helpers.datasets.hpatches`: patch ``i`` of image ``t`` of sequence
``s`` is ``offsets[s] + t * counts[s] + i``; image 0 is ``ref``, images 1-5 easy, 6-10
hard, 11-15 tough.
"""

from __future__ import annotations

import numpy as np

LEVELS = ("e", "h", "t")
POOL_SIZES = (100, 500, 1000, 5000, 10000, 15000, 20000)


def level_images(level: str) -> np.ndarray:
    """Image indexes (ref + the five targets) of a level: e -> [0, 1..5]."""
    k = LEVELS.index(level)
    return np.array([0, *range(1 + 5 * k, 6 + 5 * k)])


# ------------------------------------------------------------------------------ metrics

def average_precision(distances, labels, numpos: int | None = None) -> float:
    """AP of items ranked by increasing distance; ``labels`` 1 for positives.

    Ties keep input order (stable sort). ``numpos`` (default: the positives present)
    is the recall denominator.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    numpos = int(y.sum()) if numpos is None else int(numpos)
    if numpos == 0:
        return float("nan")
    y = y[np.argsort(d, kind="stable")]
    ranks = np.flatnonzero(y) + 1
    return float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / numpos)


def roc_auc(distances, labels) -> float:
    """Area under the ROC curve for "positive when distance is small" (ties count half)."""
    from scipy.stats import rankdata

    d = np.asarray(distances, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(-d)  # high rank = small distance
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def sq_distances(a, b) -> np.ndarray:
    """Squared Euclidean distance matrix (len(a), len(b)) as one matrix product."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _pair_sq_distances(desc, rows1, rows2, chunk: int = 1 << 16) -> np.ndarray:
    out = np.empty(len(rows1), dtype=np.float32)
    for s in range(0, len(rows1), chunk):
        a = np.asarray(desc[rows1[s:s + chunk]], dtype=np.float32)
        b = np.asarray(desc[rows2[s:s + chunk]], dtype=np.float32)
        out[s:s + chunk] = ((a - b) ** 2).sum(1)
    return out


# ------------------------------------------------------------------------------ tasks

def verification_pairs(offsets, counts, n_pairs: int = 100_000, seed: int = 42) -> dict:
    """Seeded pair definitions as in the benchmark's generator.

    Returns int arrays: ``seq``, ``idx`` (positive keypoint), ``idx_neg`` (another keypoint
    of the same sequence), ``seq_inter``, ``idx_inter`` (a keypoint of another sequence),
    ``t1``, ``t2`` (two different image slots 0-5 of a level, 0 = ref).
    """
    counts = np.asarray(counts)
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, len(counts), n_pairs)
    n = counts[seq]
    idx = (rng.random(n_pairs) * n).astype(np.int64)
    idx_neg = (idx + 1 + (rng.random(n_pairs) * (n - 1)).astype(np.int64)) % n
    t = np.argsort(rng.random((n_pairs, 6)), axis=1)[:, :2]  # two different slots
    if len(counts) > 1:  # another sequence
        seq_inter = (seq + 1 + rng.integers(0, len(counts) - 1, n_pairs)) % len(counts)
    else:
        seq_inter = seq
    idx_inter = (rng.random(n_pairs) * counts[seq_inter]).astype(np.int64)
    return {"seq": seq, "idx": idx, "idx_neg": idx_neg, "seq_inter": seq_inter,
            "idx_inter": idx_inter, "t1": t[:, 0], "t2": t[:, 1]}


def verification(desc, offsets, counts, pairs: dict | None = None, **pair_kw) -> dict:
    """Per level ``{e|h|t: {intra|inter: {"ap": imbalanced AP, "auc": balanced ROC AUC}}}``."""
    offsets, counts = np.asarray(offsets), np.asarray(counts)
    p = pairs if pairs is not None else verification_pairs(offsets, counts, **pair_kw)

    def row(seq, img, idx):
        return offsets[seq] + img * counts[seq] + idx

    n = len(p["seq"])
    n_imb = max(1, n // 5)  # imbalanced: every negative, a fifth of the positives
    labels = np.r_[np.zeros(n), np.ones(n)]
    labels_imb = np.r_[np.zeros(n), np.ones(n_imb)]
    out = {}
    for level in LEVELS:
        imgs = level_images(level)
        i1, i2 = imgs[p["t1"]], imgs[p["t2"]]
        d_pos = _pair_sq_distances(desc, row(p["seq"], i1, p["idx"]), row(p["seq"], i2, p["idx"]))
        d_intra = _pair_sq_distances(desc, row(p["seq"], i1, p["idx"]),
                                     row(p["seq"], i2, p["idx_neg"]))
        d_inter = _pair_sq_distances(desc, row(p["seq"], i1, p["idx"]),
                                     row(p["seq_inter"], i2, p["idx_inter"]))
        out[level] = {}
        for kind, d_neg in (("intra", d_intra), ("inter", d_inter)):
            out[level][kind] = {
                "auc": roc_auc(np.r_[d_neg, d_pos], labels),
                "ap": average_precision(np.r_[d_neg, d_pos[:n_imb]], labels_imb),
            }
    return out


def matching(desc, offsets, counts) -> dict:
    """Per level ``{e|h|t: mean AP}`` over sequences and the level's five targets."""
    offsets, counts = np.asarray(offsets), np.asarray(counts)
    aps = {lv: [] for lv in LEVELS}
    for s in range(len(counts)):
        n = int(counts[s])
        block = np.asarray(desc[offsets[s]:offsets[s] + 16 * n], dtype=np.float32)
        block = block.reshape(16, n, -1)
        ref = block[0]
        truth = np.arange(n)
        for level in LEVELS:
            for img in level_images(level)[1:]:
                d = sq_distances(ref, block[img])
                nn = d.argmin(axis=1)
                aps[level].append(average_precision(d[truth, nn], nn == truth, numpos=n))
    return {lv: float(np.mean(v)) for lv, v in aps.items()}


def retrieval_task(offsets, counts, n_queries: int = 5000, n_distractors: int = 20000,
                   seed: int = 42, ref_patches=None, min_std: float = 10.0) -> dict:
    """Seeded queries and distractors (reference patches), as the benchmark draws them.

    ``ref_patches`` (optional, uint8 (N, s, s) aligned with the rows) drops flat patches
    (standard deviation <= ``min_std``) as the benchmark's generator does. Queries are
    never distractors. Returns ``{"q_seq", "q_idx", "d_seq", "d_idx"}``.
    """
    offsets, counts = np.asarray(offsets), np.asarray(counts)
    rng = np.random.default_rng(seed)
    # every reference patch once, in a seeded random order
    seq_all = np.repeat(np.arange(len(counts)), counts)
    idx_all = np.concatenate([np.arange(c) for c in counts])
    if ref_patches is not None:
        rows = offsets[seq_all] + idx_all
        keep = np.asarray(ref_patches[np.sort(rows)], dtype=np.float32).reshape(len(rows), -1)
        ok = np.empty(len(rows), bool)
        ok[np.argsort(rows)] = keep.std(axis=1) > min_std
        seq_all, idx_all = seq_all[ok], idx_all[ok]
    order = rng.permutation(len(seq_all))
    nq = min(n_queries, len(order) // 5)
    q, d = order[:nq], order[nq:nq + n_distractors]
    return {"q_seq": seq_all[q], "q_idx": idx_all[q], "d_seq": seq_all[d], "d_idx": idx_all[d]}


def retrieval(desc, offsets, counts, task: dict | None = None,
              pool_sizes=POOL_SIZES, chunk: int = 512, **task_kw) -> dict:
    """Per level ``{e|h|t: {pool_size: mean AP}}``.

    The pool of a query holds its 5 positives and the first ``pool_size - 5`` distractors
    (in list order) that come from another sequence, fewer when the list runs out (as in the
    benchmark's code); pool sizes above the list's length + 5 are left out.
    """
    offsets, counts = np.asarray(offsets), np.asarray(counts)
    task = task if task is not None else retrieval_task(offsets, counts, **task_kw)
    q_seq, q_idx = task["q_seq"], task["q_idx"]
    q_rows = offsets[q_seq] + q_idx
    d_desc = np.asarray(desc[offsets[task["d_seq"]] + task["d_idx"]], dtype=np.float32)
    d_seq = task["d_seq"]
    # as in the benchmark, a pool takes the first pool_size - 5 entries of the list that come
    # from another sequence, or all of them when the list runs out
    pools = [k for k in pool_sizes if k - 5 <= len(d_seq)]
    if not pools:
        raise ValueError(f"too few distractors ({len(d_seq)}) for pool size {min(pool_sizes)}")
    sums = {lv: np.zeros(len(pools)) for lv in LEVELS}
    for s in range(0, len(q_rows), chunk):
        qs, rows = q_seq[s:s + chunk], q_rows[s:s + chunk]
        qd = np.asarray(desc[rows], dtype=np.float32)
        dist = sq_distances(qd, d_desc)  # (q, distractors)
        valid = d_seq[None, :] != qs[:, None]
        dist[~valid] = np.inf
        # position (exclusive end) in the distractor list of each pool's last valid member
        csum = np.cumsum(valid, axis=1)
        ends = np.stack([np.minimum((csum < k - 5).sum(axis=1) + 1, len(d_seq))
                         for k in pools], axis=1)  # (q, P)
        for level in LEVELS:
            pos_rows = (offsets[qs][:, None] + level_images(level)[None, 1:] * counts[qs][:, None]
                        + q_idx[s:s + chunk, None])
            d_pos = ((np.asarray(desc[pos_rows.ravel()], dtype=np.float32)
                      .reshape(len(qs), 5, -1) - qd[:, None, :]) ** 2).sum(-1)
            d_pos = np.sort(d_pos, axis=1)  # (q, 5)
            # distractors ranked above each positive, counted inside each pool
            closer = np.zeros((len(qs), 5, len(pools)))
            for j in range(5):
                c = np.cumsum(dist < d_pos[:, j:j + 1], axis=1)  # (q, distractors)
                closer[:, j, :] = np.take_along_axis(c, ends - 1, axis=1)
            ranks = np.arange(1, 6)[None, :, None] + closer
            ap = (np.arange(1, 6)[None, :, None] / ranks).mean(axis=1)  # (q, P)
            sums[level] += ap.sum(axis=0)
    return {lv: {k: float(sums[lv][i] / len(q_rows)) for i, k in enumerate(pools)}
            for lv in LEVELS}


def evaluate(desc, offsets, counts, *, n_pairs: int = 100_000, n_queries: int = 5000,
             n_distractors: int = 20000, pool_sizes=POOL_SIZES, ref_patches=None,
             seed: int = 42) -> dict:
    """All three tasks: ``{"verification": ..., "matching": ..., "retrieval": ...}``."""
    return {
        "verification": verification(desc, offsets, counts, n_pairs=n_pairs, seed=seed),
        "matching": matching(desc, offsets, counts),
        "retrieval": retrieval(desc, offsets, counts, pool_sizes=pool_sizes,
                               n_queries=n_queries,
                               n_distractors=n_distractors, ref_patches=ref_patches, seed=seed),
    }


def summary(results: dict) -> dict:
    """The coursework's single numbers.

    verification: mean imbalanced AP over levels and negative types; matching: mean AP
    over levels; retrieval: mean AP over levels and pool sizes.
    """
    v = results["verification"]
    r = results["retrieval"]
    return {
        "verification": float(np.mean([v[lv][k]["ap"] for lv in LEVELS
                                       for k in ("intra", "inter")])),
        "matching": float(np.mean([results["matching"][lv] for lv in LEVELS])),
        "retrieval": float(np.mean([ap for lv in LEVELS for ap in r[lv].values()])),
    }


def per_level_table(results: dict) -> str:
    """The per-level figures as aligned text (verification AP/AUC, matching, retrieval)."""
    v, m, r = results["verification"], results["matching"], results["retrieval"]
    lines = [f"{'level':<6}{'ver AP intra':>13}{'ver AP inter':>13}{'AUC intra':>10}"
             f"{'AUC inter':>10}{'matching':>10}  retrieval AP by pool size"]
    for lv in LEVELS:
        pools = "  ".join(f"{k}:{ap:.3f}" for k, ap in r[lv].items())
        lines.append(f"{lv:<6}{v[lv]['intra']['ap']:13.3f}{v[lv]['inter']['ap']:13.3f}"
                     f"{v[lv]['intra']['auc']:10.3f}{v[lv]['inter']['auc']:10.3f}"
                     f"{m[lv]:10.3f}  {pools}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ baselines

def raw_pixels(patches) -> np.ndarray:
    """Raw-pixel descriptors: each patch flattened, zero mean, unit norm (float32)."""
    x = np.asarray(patches, dtype=np.float32).reshape(len(patches), -1)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def sift_like(patches, cells: int = 4, bins: int = 8) -> np.ndarray:
    """A SIFT-like descriptor (Lowe 2004), vectorised over a batch of square patches.

    Gradient orientations in ``bins`` bins (linear interpolation between bins), weighted
    by magnitude and a Gaussian window, pooled in ``cells`` x ``cells`` cells (128-d by
    default), normalised, clipped at 0.2 and normalised again. No keypoint orientation.
    """
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim == 4:
        x = x[..., 0]
    n, h, w = x.shape
    gy, gx = np.gradient(x, axis=(1, 2))
    mag = np.hypot(gx, gy)
    yy, xx = np.mgrid[:h, :w]
    sigma = w / 2
    window = np.exp(-(((yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2) / (2 * sigma ** 2)))
    mag = mag * window
    ang = (np.arctan2(gy, gx) % (2 * np.pi)) / (2 * np.pi) * bins
    b0 = np.floor(ang).astype(np.int64) % bins
    frac = ang - np.floor(ang)
    hist = np.zeros((n, h, w, bins), dtype=np.float32)
    np.put_along_axis(hist, b0[..., None], (mag * (1 - frac))[..., None], axis=3)
    b1 = (b0 + 1) % bins
    hist += np.eye(bins, dtype=np.float32)[b1] * (mag * frac)[..., None]
    ch, cw = h // cells, w // cells
    hist = hist[:, :ch * cells, :cw * cells].reshape(n, cells, ch, cells, cw, bins).sum((2, 4))
    d = hist.reshape(n, -1)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
    d = np.minimum(d, 0.2)
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
