"""`dialwise bench nlu` returns the documented figures (checked on the shipped model, no fixtures run twice)."""
from __future__ import annotations


def test_bench_report_shape_and_targets():
    from nlu.bench import run_bench
    from nlu.classifier import load_model

    r = run_bench(load_model(), with_fixtures=True)
    # issue 16: every figure per split, dev and test; targets on test (the stress set is test only)
    for split in ("dev", "test"):
        for key in ("heldout_zh", "heldout_en", "context", "must_not_miss", "entities", "blind", "fixtures"):
            assert key in r[split], (split, key)
    assert "stress" in r["test"]["must_not_miss"] and "stress" not in r["dev"]["must_not_miss"]
    test = r["test"]
    assert test["heldout_zh"]["accuracy"] >= 0.93 and test["heldout_en"]["accuracy"] >= 0.93
    assert test["must_not_miss"]["recall"] >= 0.98
    assert test["must_not_miss"]["stress"]["recall"] >= test["must_not_miss"]["stress"]["recall_model_only"]
    assert test["entities"]["exact_match"] >= 0.95
    assert r["load_s"] > 0  # how fast is for `dialwise bench nlu`, not for a test on a busy machine
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"]
