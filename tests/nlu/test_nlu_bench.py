"""`dialwise bench nlu` returns the documented figures (checked on the shipped model, no fixtures run twice)."""
from __future__ import annotations


def test_bench_report_shape_and_targets():
    from nlu.bench import run_bench
    from nlu.classifier import load_model

    r = run_bench(load_model(), with_fixtures=True)
    for key in ("heldout_zh", "heldout_en", "must_not_miss", "entities", "latency_ms", "load_s", "blind", "fixtures"):
        assert key in r
    assert r["heldout_zh"]["accuracy"] >= 0.93 and r["heldout_en"]["accuracy"] >= 0.93
    assert r["must_not_miss"]["recall"] >= 0.98
    assert r["must_not_miss"]["stress"]["recall"] >= r["must_not_miss"]["stress"]["recall_model_only"]
    assert r["entities"]["exact_match"] >= 0.95
    assert r["load_s"] > 0  # how fast is for `dialwise bench nlu`, not for a test on a busy machine
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"]
