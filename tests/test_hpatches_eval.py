"""helpers.hpatches: the benchmark's metrics and tasks on tiny hand-computable cases."""

import numpy as np
import pytest

from helpers import hpatches as E


def layout(n_seq, n):
    counts = np.full(n_seq, n)
    offsets = np.arange(n_seq) * 16 * n
    return offsets, counts


def perfect_descriptors(offsets, counts):
    """One-hot per (sequence, keypoint), identical in all 16 images."""
    total = int(counts.sum())
    desc = np.zeros((int(16 * counts.sum()), total), np.float32)
    key = 0
    for o, n in zip(offsets, counts):
        for t in range(16):
            desc[o + t * n + np.arange(n), key + np.arange(n)] = 1.0
        key += n
    return desc


def test_average_precision_hand_cases():
    assert E.average_precision([0.1, 0.2, 0.9], [1, 1, 0]) == 1.0
    # reversed: the two positives ranked 2nd and 3rd of 3 -> (1/2 + 2/3) / 2
    assert E.average_precision([0.1, 0.2, 0.9], [0, 1, 1]) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # positives ranked last among 5 items (2 of them): (1/4 + 2/5) / 2
    assert E.average_precision([5, 4, 3, 2, 1], [1, 1, 0, 0, 0]) == pytest.approx(0.325)
    # recall over numpos: one right match found of 4 -> AP 1/4
    assert E.average_precision([0.5, 0.7], [1, 0], numpos=4) == pytest.approx(0.25)


def test_roc_auc_hand_cases():
    assert E.roc_auc([0, 1, 2, 3], [1, 1, 0, 0]) == 1.0
    assert E.roc_auc([0, 1, 2, 3], [0, 0, 1, 1]) == 0.0
    assert E.roc_auc([1, 1, 1, 1], [1, 0, 1, 0]) == 0.5  # all tied
    # one of four (pos, neg) orderings wrong
    assert E.roc_auc([0, 2, 1, 3], [1, 1, 0, 0]) == pytest.approx(0.75)


def test_sq_distances_match_loops():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    ref = ((a[:, None] - b[None]) ** 2).sum(-1)
    np.testing.assert_allclose(E.sq_distances(a, b), ref, rtol=1e-5, atol=1e-5)


def test_perfect_descriptor_scores_one_everywhere():
    offsets, counts = layout(4, 12)
    desc = perfect_descriptors(offsets, counts)
    res = E.evaluate(desc, offsets, counts, n_pairs=500, n_queries=8, n_distractors=30,
                     pool_sizes=(10, 20))
    s = E.summary(res)
    assert s == {"verification": 1.0, "matching": 1.0, "retrieval": 1.0}
    assert all(res["verification"][lv][k]["auc"] == 1.0 for lv in E.LEVELS
               for k in ("intra", "inter"))
    assert set(res["retrieval"]["e"]) == {10, 20}


def test_matching_wrong_neighbours_score_zero_and_half_right_scores_expected():
    offsets, counts = layout(1, 4)
    desc = perfect_descriptors(offsets, counts)
    # in every target image, shift keypoint identities by one: every match is wrong
    shifted = desc.copy()
    for t in range(1, 16):
        block = slice(t * 4, t * 4 + 4)
        shifted[block] = np.roll(desc[block], 1, axis=0)
    assert E.matching(shifted, offsets, counts) == {"e": 0.0, "h": 0.0, "t": 0.0}
    # make target keypoint 1 a copy of keypoint 0: ref 0 finds target 0 (argmin takes the
    # first of a tie, distance 0, right), ref 1 finds target 0 too (distance 2, wrong),
    # refs 2 and 3 are right at distance 0 -> ranks 1, 2, 3 right, rank 4 wrong: AP 3/4
    tied = desc.copy()
    for t in range(1, 16):
        tied[t * 4 + 1] = tied[t * 4 + 0]
    m = E.matching(tied, offsets, counts)
    assert m["e"] == pytest.approx(3 / 4)


def test_verification_reversed_distances():
    offsets, counts = layout(3, 10)
    pairs = E.verification_pairs(offsets, counts, n_pairs=50, seed=1)
    assert np.all(pairs["t1"] != pairs["t2"])
    assert np.all(pairs["idx"] != pairs["idx_neg"])
    desc = perfect_descriptors(offsets, counts)
    res = E.verification(desc, offsets, counts, pairs=pairs)
    assert res["e"]["intra"]["ap"] == 1.0 and res["t"]["inter"]["auc"] == 1.0
    # a descriptor that is one-hot per IMAGE slot: positives and intra negatives both
    # compare two different images (distance 2): all tied -> AUC exactly 0.5
    img_desc = np.zeros((len(desc), 16), np.float32)
    for o, n in zip(offsets, counts):
        for t in range(16):
            img_desc[o + t * n:o + (t + 1) * n, t] = 1.0
    res = E.verification(img_desc, offsets, counts, pairs=pairs)
    assert res["h"]["intra"]["auc"] == pytest.approx(0.5)


def test_retrieval_reversed_positives_get_expected_ap():
    offsets, counts = layout(3, 6)
    desc = perfect_descriptors(offsets, counts)
    task = {"q_seq": np.array([0]), "q_idx": np.array([0]),
            "d_seq": np.array([1, 1, 1, 2, 2, 2, 0]), "d_idx": np.array([0, 1, 2, 0, 1, 2, 3])}
    # push the five easy positives of query (0, 0) away: |3e - e|^2 = 4, while every
    # distractor of another sequence is at distance 2, so all of them rank first
    far = desc.copy()
    for t in range(1, 6):
        far[offsets[0] + t * 6 + 0] *= 3.0
    res = E.retrieval(far, offsets, counts, task=task, pool_sizes=(8, 11))
    # pool 8: 5 positives + 3 distractors ranked first -> ranks 4..8
    expected8 = np.mean([k / (3 + k) for k in range(1, 6)])
    expected11 = np.mean([k / (6 + k) for k in range(1, 6)])
    assert res["e"][8] == pytest.approx(expected8)
    assert res["e"][11] == pytest.approx(expected11)
    assert res["h"][8] == 1.0  # hard positives untouched: perfect
    # the own-sequence distractor (0, 3) never enters a pool: pool 12 holds the same 6
    # distractors as pool 11; pools beyond the list (5 + 7 entries) are left out
    res = E.retrieval(far, offsets, counts, task=task, pool_sizes=(12, 13))
    assert res["e"] == {12: pytest.approx(expected11)}


def test_retrieval_task_filters_flat_patches_and_separates_queries():
    offsets, counts = layout(4, 10)
    patches = np.zeros((16 * 40, 8, 8), np.uint8)
    rng = np.random.default_rng(0)
    textured = rng.integers(0, 255, (16 * 40, 8, 8), dtype=np.uint8)
    patches[:] = textured
    patches[offsets[1]:offsets[1] + 10] = 128  # sequence 1's ref patches are flat
    task = E.retrieval_task(offsets, counts, n_queries=5, n_distractors=100, ref_patches=patches)
    assert 1 not in task["q_seq"] and 1 not in task["d_seq"]
    q = set(zip(task["q_seq"], task["q_idx"]))
    d = set(zip(task["d_seq"], task["d_idx"]))
    assert len(q) == 5 and not q & d


def test_baseline_descriptors():
    rng = np.random.default_rng(0)
    p = rng.integers(0, 255, (6, 32, 32), dtype=np.uint8)
    raw = E.raw_pixels(p)
    np.testing.assert_allclose(np.linalg.norm(raw, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(raw, E.raw_pixels(p.astype(np.float32) * 2 + 7), atol=1e-5)
    s = E.sift_like(p)
    assert s.shape == (6, 128) and np.all(s >= 0) and np.all(s <= 0.2 / 0.2 + 1e-6)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, rtol=1e-5)
    # brightness offset does not change a gradient descriptor
    np.testing.assert_allclose(s, E.sift_like(p.astype(np.float32) + 20), atol=1e-5)
    # a vertical edge puts its energy in the horizontal-gradient bins (0 and 4)
    edge = np.zeros((1, 32, 32), np.float32)
    edge[:, :, 16:] = 1.0
    h = E.sift_like(edge).reshape(4, 4, 8).sum((0, 1))
    assert h[[0, 4]].sum() > 0.99 * h.sum()


def test_retrieval_and_matching_agree_with_a_loop_reference():
    rng = np.random.default_rng(3)
    offsets, counts = np.array([0, 16 * 7, 16 * 12]), np.array([7, 5, 6])
    desc = rng.normal(size=(16 * 18, 4)).astype(np.float32)
    task = E.retrieval_task(offsets, counts, n_queries=3, n_distractors=10, seed=5)
    res = E.retrieval(desc, offsets, counts, task=task, pool_sizes=(7, 9), chunk=2)
    for lv in E.LEVELS:
        imgs = E.level_images(lv)[1:]
        for k in (7, 9):
            aps = []
            for qs, qi in zip(task["q_seq"], task["q_idx"]):
                q = desc[offsets[qs] + qi]
                pos = [((desc[offsets[qs] + t * counts[qs] + qi] - q) ** 2).sum() for t in imgs]
                dis = [((desc[offsets[s] + i] - q) ** 2).sum()
                       for s, i in zip(task["d_seq"], task["d_idx"]) if s != qs][:k - 5]
                d = np.r_[pos, dis]
                y = np.r_[np.ones(5), np.zeros(len(dis))]
                aps.append(E.average_precision(d, y))
            assert res[lv][k] == pytest.approx(np.mean(aps), rel=1e-5)
    # matching against a loop
    m = E.matching(desc, offsets, counts)
    aps = []
    for o, n in zip(offsets, counts):
        for t in E.level_images("h")[1:]:
            d = [[((desc[o + i] - desc[o + t * n + j]) ** 2).sum() for j in range(n)]
                 for i in range(n)]
            nn = np.argmin(d, axis=1)
            aps.append(E.average_precision([d[i][nn[i]] for i in range(n)],
                                           nn == np.arange(n), numpos=n))
    assert m["h"] == pytest.approx(np.mean(aps), rel=1e-5)
