"""The parallel/serial split of tests/conftest.py names real test modules (a renamed file would silently
leave its timing bounds to the parallel phase)."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import SAME_WORKER, SERIAL, SPREAD

ROOT = Path(__file__).resolve().parents[2]


def test_every_listed_module_exists():
    listed = set(SERIAL) | set(SPREAD) | {p for paths in SAME_WORKER.values() for p in paths}
    assert [p for p in sorted(listed) if not (ROOT / p).is_file()] == []


def test_a_module_is_in_one_list_only():
    grouped = [p for paths in SAME_WORKER.values() for p in paths]
    assert len(grouped) == len(set(grouped))
    assert not (set(SERIAL) & set(SPREAD)) and not (set(SERIAL) & set(grouped)) and not (set(SPREAD) & set(grouped))
