"""The scripts library: find, load (validated) and list the YAML scripts under scripts_library/.

    load_script("collections_m1_zh_a") -> Script        # raises ScriptError if it does not validate
    list_scripts() -> [ScriptInfo]                       # every script that validates
    script_for("collections", "M1", "zh") -> "collections_m1_zh_a"
    all_fixed_lines() -> [(line_id, text, lang)]         # for pre-synthesis
    sample_account("zh") -> Account
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from dialogs.script import PLACEHOLDER, Problem, Script, ScriptError, load_flow_file
from dialogs.types import Account

LIBRARY_DIR = Path(__file__).resolve().parent.parent / "scripts_library"
PRODUCTS = ("reborrow", "limit_increase", "reactivation")
BUCKETS = ("M0", "M1", "M2")


class ScriptNotFound(LookupError):
    """No script with that id, or none for that purpose/bucket/language."""


@dataclass(frozen=True)
class ScriptInfo:
    id: str
    purpose: str
    bucket: str | None
    product: str | None
    language: str
    variant: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def flow_files(root: Path | None = None) -> list[Path]:
    """Every flow file (fragments whose names start with `_` excluded)."""
    base = root or LIBRARY_DIR
    return sorted(p for p in base.glob("*/*.yaml") if not p.name.startswith("_"))


def base_fragment(name: str, purpose: str | None = None) -> Path | None:
    """A base fragment of the library (`_common.yaml`) by its bare name, from the folder of the
    purpose when it has one; None for anything that is not one of the library's own base files."""
    from dialogs.script import BASE_NAME

    if not isinstance(name, str) or not BASE_NAME.match(name):
        return None
    root = LIBRARY_DIR.resolve()
    found = {p.parent.name: p for p in sorted(root.glob(f"*/{name}")) if p.is_file()}
    chosen = found.get(purpose) if isinstance(purpose, str) and purpose in found else None
    chosen = chosen or next(iter(found.values()), None)
    if chosen is None or chosen.resolve().parent.parent != root:
        return None
    return chosen


@lru_cache(maxsize=256)
def _load_file(path: str, mtime: float) -> tuple[tuple[Script, ...], tuple[Problem, ...]]:
    try:
        return tuple(load_flow_file(Path(path))), ()
    except ScriptError as exc:
        return (), tuple(exc.problems)


def _file(path: Path) -> tuple[tuple[Script, ...], tuple[Problem, ...]]:
    mtime = max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.parent.glob("_*.yaml")])
    return _load_file(str(path), mtime)


@lru_cache(maxsize=512)
def _validated(script_id: str, source: str, mtime: float) -> tuple[Problem, ...]:
    from dialogs.validate import validate_script

    scripts, _ = _load_file(source, mtime)
    script = next(s for s in scripts if s.id == script_id)
    return tuple(validate_script(script))


def _all(root: Path | None = None) -> tuple[list[Script], list[Problem]]:
    scripts: list[Script] = []
    problems: list[Problem] = []
    for path in flow_files(root):
        found, errs = _file(path)
        scripts.extend(found)
        problems.extend(errs)
    return scripts, problems


def _problems_of(script: Script) -> list[Problem]:
    path = Path(script.source)
    mtime = max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.parent.glob("_*.yaml")])
    return list(_validated(script.id, script.source, mtime))


def validate_library(root: Path | None = None) -> tuple[list[Script], list[Problem]]:
    """(every script that parsed, every problem found in the library: schema and semantic)."""
    scripts, problems = _all(root)
    for script in scripts:
        problems.extend(_problems_of(script) if root is None else _validate_now(script))
    return scripts, problems


def _validate_now(script: Script) -> list[Problem]:
    from dialogs.validate import validate_script

    return validate_script(script)


def load_script(script_id: str) -> Script:
    """The validated script with that id. An invalid script never loads: ScriptError lists its problems."""
    key = script_id.strip().lower()
    scripts, problems = _all()
    for script in scripts:
        if script.id == key:
            errs = _problems_of(script)
            if errs:
                raise ScriptError(errs)
            return script
    broken = [p for p in problems if p.script_id == key]
    if broken:
        raise ScriptError(broken)
    known = ", ".join(sorted(s.id for s in scripts)[:8])
    raise ScriptNotFound(f"no script {script_id!r} (see `dialwise scripts list`; e.g. {known})")


def list_scripts() -> list[ScriptInfo]:
    """Every script that loads (validates), sorted by id."""
    scripts, _ = _all()
    return [
        ScriptInfo(s.id, s.purpose, s.bucket, s.product, s.language, s.variant)
        for s in sorted(scripts, key=lambda s: s.id)
        if not _problems_of(s)
    ]


def normalise_group(bucket_or_product: str) -> str:
    """"M1" -> "m1"; "M3", "M4", "M2+" -> "m2"; products and "voicemail" as they are."""
    g = str(bucket_or_product).strip().lower().rstrip("+")
    if g.startswith("m") and g[1:].isdigit():
        return f"m{min(int(g[1:]), 2)}"
    return g


def script_for(purpose: str, bucket_or_product: str, language: str, variant: str | None = None) -> str:
    """The id of the script for a purpose, bucket (M0/M1/M2+) or product, and language; first variant by default."""
    prefix = f"{purpose.strip().lower()}_{normalise_group(bucket_or_product)}_{language.strip().lower()}_"
    ids = sorted(info.id for info in list_scripts() if info.id.startswith(prefix))
    if variant is not None:
        wanted = prefix + variant.strip().lower()
        if wanted in ids:
            return wanted
        raise ScriptNotFound(f"no script {wanted!r}; variants: {[i[len(prefix):] for i in ids]}")
    if not ids:
        raise ScriptNotFound(f"no script for {purpose}/{bucket_or_product}/{language}")
    return ids[0]


def variants_for(purpose: str, bucket_or_product: str, language: str) -> list[str]:
    prefix = f"{purpose.strip().lower()}_{normalise_group(bucket_or_product)}_{language.strip().lower()}_"
    return sorted(info.id for info in list_scripts() if info.id.startswith(prefix))


def all_fixed_lines() -> list[tuple[str, str, str]]:
    """(line_id, text, lang) for every fixed line (no placeholders) of every valid script."""
    out: list[tuple[str, str, str]] = []
    for info in list_scripts():
        script = load_script(info.id)
        used = used_lines(script)
        for key, spec in sorted(script.lines.items()):
            if key not in used or (spec.only and script.language not in spec.only):
                continue
            text = spec.text(script.language)
            if text and not PLACEHOLDER.search(text):
                out.append((script.line_id(key), text.strip(), script.language))
    return out


def used_lines(script: Script) -> set[str]:
    """Line keys a script can actually say (nodes, reprompts, rules, global handlers, sorry / still there)."""
    from dialogs.policy import SILENCE_LINE, SORRY_LINE

    used = {SORRY_LINE, SILENCE_LINE}
    for node in script.nodes.values():
        used.update(node.say)
        used.update(node.reprompt or [])
        for rule in [*node.rules, *(node.next or [])]:
            used.update(rule.say)
    for rule in script.globals:
        used.update(rule.say)
    return used & set(script.lines)


def sample_account(lang: str = "zh", today: date | None = None) -> Account:
    """The documented sample callee used by `dialwise converse` without --account.

    zh: 王芳, balance 2,000 CNY, 12 days past due, ID last 4 = 1234, limit 5,000.
    en: John Smith, balance 2,000 USD, 12 days past due, ID last 4 = 1234, limit 5,000.
    """
    today = today or date.today()
    if lang == "zh":
        return Account(name="王芳", language="zh", balance=2000.0, currency="CNY",
                       due_date=today - timedelta(days=12), days_past_due=12, product="cash_loan",
                       id_last4="1234", lender="明信金融", limit=5000.0, jurisdiction="CN")
    return Account(name="John Smith", language="en", balance=2000.0, currency="USD",
                   due_date=today - timedelta(days=12), days_past_due=12, product="cash_loan",
                   id_last4="1234", lender="Bright Credit", limit=5000.0, jurisdiction="US")


ACCOUNT_REQUIRED = ("name", "language", "balance", "currency", "due_date", "days_past_due", "product", "id_last4")


def account_from_json(data: dict[str, Any]) -> Account:
    """An Account from the JSON of `--account FILE.json`; ValueError says which field is wrong."""
    missing = [k for k in ("name", "language", "balance", "currency") if data.get(k) in (None, "")]
    if missing:
        raise ValueError(f"account file is missing {missing} (needs {list(ACCOUNT_REQUIRED)})")
    due = data.get("due_date")
    try:
        due_date = date.fromisoformat(str(due)) if due else None
    except ValueError:
        raise ValueError(f"account due_date {due!r} is not YYYY-MM-DD") from None
    try:
        return Account(
            name=str(data["name"]), language=str(data["language"]), balance=float(data["balance"]),
            currency=str(data["currency"]).upper(), due_date=due_date,
            days_past_due=int(data.get("days_past_due") or 0), product=data.get("product"),
            id_last4=str(data.get("id_last4") or ""), lender=data.get("lender"),
            limit=float(data["limit"]) if data.get("limit") is not None else None,
            jurisdiction=data.get("jurisdiction"),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"account file has a bad value: {exc}") from None
