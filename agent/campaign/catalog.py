"""Which scripts exist: ids `{purpose}_{bucket|product}_{lang}_{variant}` from the dialogs library.

Sources, in order: an explicit JSON file (the output of `dialwise scripts list --json`),
`dialogs.library.list_scripts()`, or the metadata at the top of scripts_library/**/*.yaml.
Nothing is hard-coded here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import PROJECT_ROOT


@dataclass(frozen=True)
class ScriptInfo:
    id: str
    purpose: str
    kind: str          # bucket (collections) or product (telesales), lower case
    language: str
    variant: str


def norm_kind(value) -> str:
    """"M1" -> "m1"; "M3", "M2+" -> "m2" (the last collections bucket); products as they are, lower case."""
    k = str(value or "").strip().lower().rstrip("+")
    if k.startswith("m") and k[1:].isdigit():
        return f"m{min(int(k[1:]), 2)}"
    return k


def bucket_for(bucket, days_past_due) -> str:
    """Account bucket, or one derived from days past due (<=0 -> m0, 1-30 -> m1, more -> m2)."""
    k = norm_kind(bucket)
    if k:
        return k
    try:
        dpd = float(days_past_due or 0)
    except (TypeError, ValueError):
        dpd = 0.0
    return "m0" if dpd <= 0 else ("m1" if dpd <= 30 else "m2")


def _from_dicts(rows) -> list[ScriptInfo]:
    out = []
    for r in rows:
        if not isinstance(r, dict):  # dialogs.library.ScriptInfo objects
            r = r.to_json() if hasattr(r, "to_json") else vars(r)
        purpose = r.get("purpose")
        kind = r.get("bucket") if purpose == "collections" else r.get("product")
        if not (r.get("id") and purpose and kind and r.get("language")):
            continue  # e.g. a voicemail script with no bucket: not a dial script
        out.append(ScriptInfo(str(r["id"]), str(purpose), norm_kind(kind), str(r["language"]),
                              str(r.get("variant") or "a")))
    return out


def _scan_yaml(root: Path) -> list[dict]:
    import yaml

    rows = []
    for p in sorted(root.rglob("*.y*ml")):
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001 - an unreadable file is the validator's business
            continue
        if isinstance(doc, dict):
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else doc
            rows.append(meta)
    return rows


def load_scripts(path: str | Path | None = None) -> list[ScriptInfo]:
    if path is not None:
        return _from_dicts(json.loads(Path(path).read_text(encoding="utf-8")))
    try:
        from dialogs.library import list_scripts
    except ImportError:
        list_scripts = None
    if list_scripts is not None:
        scripts = _from_dicts(list_scripts())
        if scripts:
            return scripts
    return _from_dicts(_scan_yaml(PROJECT_ROOT / "scripts_library"))


@dataclass
class Catalog:
    """Scripts grouped into families (purpose, kind, language), each with its variants."""

    scripts: list[ScriptInfo]
    families: dict[tuple[str, str, str], list[ScriptInfo]] = field(default_factory=dict)
    by_id: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (family index, variant index)
    family_keys: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for s in sorted(self.scripts, key=lambda s: (s.purpose, s.kind, s.language, s.variant, s.id)):
            self.families.setdefault((s.purpose, s.kind, s.language), []).append(s)
        self.family_keys = sorted(self.families)
        for fi, key in enumerate(self.family_keys):
            for vi, s in enumerate(self.families[key]):
                self.by_id[s.id] = (fi, vi)

    def family_index(self, purpose: str, kind: str, language: str) -> int:
        try:
            return self.family_keys.index((purpose, kind, language))
        except ValueError:
            return -1

    def variants(self, fi: int) -> list[ScriptInfo]:
        return self.families[self.family_keys[fi]]

    @property
    def max_variants(self) -> int:
        return max((len(v) for v in self.families.values()), default=0)
