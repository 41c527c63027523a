"""The parallel/serial split of tests/conftest.py names real test modules (a renamed file would silently
leave its timing bounds to the parallel phase)."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import SAME_WORKER, SERIAL, SPREAD

ROOT = Path(__file__).resolve().parents[2]


def _exists(entry: str) -> bool:
    path, _, name = entry.partition("::")
    file = ROOT / path
    return file.is_file() and (not name or f"def {name}(" in file.read_text(encoding="utf-8"))


def test_every_listed_module_and_test_exists():
    listed = set(SERIAL) | set(SPREAD) | {p for paths in SAME_WORKER.values() for p in paths}
    assert [p for p in sorted(listed) if not _exists(p)] == []


def test_a_module_is_in_one_list_only():
    grouped = [p for paths in SAME_WORKER.values() for p in paths]
    assert len(grouped) == len(set(grouped))
    serial_modules = {p for p in SERIAL if "::" not in p}
    assert not (serial_modules & set(SPREAD)) and not (serial_modules & set(grouped))
    assert not (set(SPREAD) & set(grouped))
