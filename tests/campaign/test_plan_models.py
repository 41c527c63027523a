"""Contact model (Beta-Binomial + Thompson) and script bandit: they learn from outcomes and still explore."""
from __future__ import annotations

import numpy as np

from agent.campaign.bandit import ScriptBandit
from agent.campaign.contact_model import ContactModel


def _history(rng, n_acc, seg_of, best_hour_of_seg, dials=20000):
    acc = rng.integers(0, n_acc, dials)
    hod = rng.integers(8, 21, dials)
    how = rng.integers(0, 5, dials) * 24 + hod
    best = best_hour_of_seg[seg_of[acc]]
    p = np.where(np.abs(hod - best) <= 1, 0.6, 0.1)
    return acc, how, rng.random(dials) < p


def test_contact_model_learns_segment_hours_and_accounts():
    rng = np.random.default_rng(0)
    n_acc = 400
    seg_of = np.arange(n_acc) % 2
    acc, how, rpc = _history(rng, n_acc, seg_of, np.array([10, 19]))
    cm = ContactModel.fit(n_acc + 10, np.concatenate([seg_of, np.zeros(10, np.int64)]), 2, acc, how, rpc)
    monday = np.arange(8, 21)
    # a brand-new account of each segment: best hour comes from its segment
    for seg, best in ((0, 10), (1, 19)):
        m = cm.mean(np.full(13, n_acc + 1), np.full(13, seg), monday)
        assert abs(int(monday[m.argmax()]) - best) <= 1
        assert m.max() > 2.5 * m.min()
    # an account whose own answers contradict its segment moves away from the segment's pattern
    acc2 = np.concatenate([acc, np.full(30, 0)])
    how2 = np.concatenate([how, np.full(30, 15)])
    rpc2 = np.concatenate([rpc, np.ones(30, bool)])
    cm2 = ContactModel.fit(n_acc, seg_of, 2, acc2, how2, rpc2)
    assert cm2.mean(0, 0, 15) > cm2.mean(2, 0, 15) + 0.2


def test_thompson_sampling_explores_untried_hours():
    cm = ContactModel.fit(5, np.zeros(5, np.int64), 1, np.zeros(0, np.int64), np.zeros(0, np.int64),
                          np.zeros(0, bool))
    rng = np.random.default_rng(1)
    hours = np.arange(8, 22)
    draws = cm.sample(rng, np.zeros((500, 1), np.int64), np.zeros((500, 1), np.int64), hours[None, :])
    picked = set(hours[draws.argmax(axis=1)].tolist())
    assert len(picked) >= 12  # with no data every hour gets tried


def test_bandit_prefers_the_better_variant_per_context_and_keeps_exploring():
    rng = np.random.default_rng(2)
    k = 6000
    fam = np.zeros(k, np.int64)
    var = rng.integers(0, 2, k)
    ctx = rng.integers(0, 2, k)
    p = np.where(var == ctx, 0.35, 0.15)  # context 0 likes variant 0, context 1 likes variant 1
    bandit = ScriptBandit.fit(np.array([2]), 2, fam, var, ctx, rng.random(k) < p)
    for c in (0, 1):
        choice, mean = bandit.choose(rng, np.zeros(4000, np.int64), np.full(4000, c), explore=0.1)
        share_best = (choice == c).mean()
        assert 0.9 <= share_best <= 0.97, share_best  # ~95%: best unless explored (half of 10% is random best)
        assert (choice != c).mean() >= 0.03          # the exploration share keeps A/B measurable
        assert mean.max() > 0.25


def test_bandit_respects_family_variant_counts():
    bandit = ScriptBandit.fit(np.array([1, 3]), 1, np.zeros(0, np.int64), np.zeros(0, np.int64),
                              np.zeros(0, np.int64), np.zeros(0, bool))
    rng = np.random.default_rng(3)
    fam = np.array([0] * 300 + [1] * 300)
    choice, _ = bandit.choose(rng, fam, np.zeros(600, np.int64), explore=0.5)
    assert set(choice[:300].tolist()) == {0}
    assert set(choice[300:].tolist()) == {0, 1, 2}
