"""Portfolio import: a CSV of accounts -> validated `Account` rows (columns documented in docs/import.md).

Every row is validated; bad rows are reported with their line number and reason. A file is imported
all-or-nothing in one transaction unless ``skip_bad=True`` (then the good rows are imported and the bad
ones reported). Re-importing an ``external_id`` updates that account. Phones become E.164.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from agent.errors import UserError

KNOWN_COLUMNS = (
    "external_id", "name", "phone", "timezone", "region", "jurisdiction", "language", "purpose", "product",
    "bucket", "balance", "currency", "due_date", "days_past_due", "last_payment_date", "id_last4",
    "credit_limit", "consent_calls", "consent_marketing", "consent_recording",
)
REQUIRED_COLUMNS = ("external_id", "name", "phone")
CUSTOM_PREFIX = "custom."
TRUE = {"1", "true", "t", "yes", "y", "是", "对"}
FALSE = {"0", "false", "f", "no", "n", "否", "不"}
JURISDICTION_BY_CC = {86: "CN", 1: "US"}
DEFAULT_TZ = {"CN": "Asia/Shanghai", "US": "America/New_York"}
DEFAULT_LANGUAGE = {"CN": "zh", "US": "en"}
DEFAULT_CURRENCY = {"CN": "CNY", "US": "USD"}
# region -> IANA zone: US states (two-letter codes) by their main zone; Chinese provinces use Beijing time
US_STATE_TZ = {
    **dict.fromkeys("CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV".split(), "America/New_York"),
    **dict.fromkeys("AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI".split(), "America/Chicago"),
    **dict.fromkeys("CO ID MT NM UT WY".split(), "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys("CA NV OR WA".split(), "America/Los_Angeles"),
    "AK": "America/Anchorage", "HI": "Pacific/Honolulu",
}
CN_REGIONS = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 Beijing Tianjin Shanghai Chongqing Hebei Shanxi Liaoning "
    "Jilin Heilongjiang Jiangsu Zhejiang Anhui Fujian Jiangxi Shandong Henan Hubei Hunan Guangdong Hainan Sichuan "
    "Guizhou Yunnan Shaanxi Gansu Qinghai Inner-Mongolia Guangxi Tibet Ningxia Xinjiang"
).split()


@dataclass
class RowError:
    line: int
    reason: str
    external_id: str | None = None

    def __str__(self) -> str:
        who = f" ({self.external_id})" if self.external_id else ""
        return f"line {self.line}{who}: {self.reason}"


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated, "skipped": self.skipped,
            "errors": [{"line": e.line, "external_id": e.external_id, "reason": e.reason} for e in self.errors],
        }


class ImportRejected(UserError):
    """The file had bad rows and was imported all-or-nothing: nothing was written."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result
        shown = "; ".join(str(e) for e in result.errors[:5])
        more = f" (and {len(result.errors) - 5} more)" if len(result.errors) > 5 else ""
        super().__init__(
            f"{len(result.errors)} bad row(s), nothing imported: {shown}{more}. "
            "Fix them, or import the good rows with --skip-bad."
        )


def _clean(v: str | None) -> str:
    return (v or "").strip()


def _bool(v: str, col: str) -> bool:
    s = v.strip().lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise ValueError(f"{col} must be true/false (or yes/no, 1/0), not {v!r}")


def _date(v: str, col: str) -> date:
    s = v.strip().replace("/", "-")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{col} must be a date like 2025-03-31, not {v!r}") from None


def _number(v: str, col: str, minimum: float | None = 0.0) -> float:
    s = re.sub(r"[\s,_]", "", v)
    s = s.lstrip("¥$￥")
    try:
        x = float(s)
    except ValueError:
        raise ValueError(f"{col} must be a number, not {v!r}") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{col} must be a finite number, not {v!r}")
    if minimum is not None and x < minimum:
        raise ValueError(f"{col} must be >= {minimum:g}, not {v!r}")
    return x


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def _region_tz(region: str, jurisdiction: str | None) -> str | None:
    r = region.strip()
    if r.upper() in US_STATE_TZ and jurisdiction in (None, "US"):
        return US_STATE_TZ[r.upper()]
    if any(r.replace(" ", "-").lower().startswith(c.lower()) for c in CN_REGIONS) and jurisdiction in (None, "CN"):
        return "Asia/Shanghai"
    return None


def _jurisdiction_for_tz(tz: str) -> str | None:
    if tz in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC"):
        return "CN"
    if tz.startswith("America/") or tz.startswith("US/") or tz == "Pacific/Honolulu":
        return "US"
    return None


def validate_row(raw: dict[str, str], as_of: date) -> dict[str, Any]:
    """One CSV row -> account field values, or ValueError with the reason. Only fields the row sets."""
    get = lambda k: _clean(raw.get(k))  # noqa: E731
    out: dict[str, Any] = {}
    for col in REQUIRED_COLUMNS:
        if not get(col):
            raise ValueError(f"{col} is empty")
    out["external_id"] = get("external_id")
    if len(out["external_id"]) > 128:
        raise ValueError("external_id is longer than 128 characters")
    out["name"] = get("name")[:200]

    jurisdiction = get("jurisdiction").upper() or None
    if jurisdiction and jurisdiction not in ("CN", "US"):
        raise ValueError(f"jurisdiction must be CN or US, not {get('jurisdiction')!r}")
    tz = get("timezone") or None
    if tz and not _zone_ok(tz):
        raise ValueError(f"timezone {tz!r} is not an IANA zone such as Asia/Shanghai or America/Chicago")
    region = get("region") or None
    if not tz and region:
        tz = _region_tz(region, jurisdiction)
        if tz is None:
            raise ValueError(f"region {region!r} has no known time zone; give a timezone column instead")
    if not jurisdiction and tz:
        jurisdiction = _jurisdiction_for_tz(tz)

    default_region = jurisdiction or "CN"
    try:
        num = phonenumbers.parse(get("phone"), None if get("phone").startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"phone {get('phone')!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(num):
        raise ValueError(f"phone {get('phone')!r} is not a valid number for region {default_region}")
    out["phone"] = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    cc_jur = JURISDICTION_BY_CC.get(num.country_code)
    if jurisdiction is None:
        jurisdiction = cc_jur
    if jurisdiction is None:
        raise ValueError(f"cannot tell the jurisdiction of {out['phone']}; add a jurisdiction column (CN or US)")
    out["jurisdiction"] = jurisdiction
    if not tz:
        zones = [z for z in pn_timezone.time_zones_for_number(num) if _zone_ok(z)]
        if num.country_code == 86:
            tz = "Asia/Shanghai"
        elif len(zones) == 1:
            tz = zones[0]
        else:
            raise ValueError("no timezone or region, and the phone number spans several time zones")
    out["timezone"] = tz
    if region:
        out["region"] = region[:64]

    lang = get("language").lower()
    if lang and lang not in ("zh", "en"):
        raise ValueError(f"language must be zh or en, not {get('language')!r}")
    out["language"] = lang or DEFAULT_LANGUAGE[jurisdiction]
    purpose = get("purpose").lower()
    if purpose and purpose not in ("collections", "telesales"):
        raise ValueError(f"purpose must be collections or telesales, not {get('purpose')!r}")
    if purpose:
        out["purpose"] = purpose
    if get("product"):
        out["product"] = get("product")[:64]
    if get("balance"):
        out["balance"] = _number(get("balance"), "balance")
    cur = get("currency").upper()
    if cur and not re.fullmatch(r"[A-Z]{3}", cur):
        raise ValueError(f"currency must be a 3-letter code such as CNY or USD, not {get('currency')!r}")
    if cur:
        out["currency"] = cur
    if get("due_date"):
        out["due_date"] = _date(get("due_date"), "due_date")
    if get("last_payment_date"):
        out["last_payment_date"] = _date(get("last_payment_date"), "last_payment_date")
        if out["last_payment_date"] > as_of:
            raise ValueError(f"last_payment_date {out['last_payment_date']} is in the future")
    if get("days_past_due"):
        dpd = _number(get("days_past_due"), "days_past_due")
        if dpd != int(dpd):
            raise ValueError(f"days_past_due must be a whole number, not {get('days_past_due')!r}")
        out["days_past_due"] = int(dpd)
    elif "due_date" in out:
        out["days_past_due"] = max(0, (as_of - out["due_date"]).days)
    bucket = get("bucket").upper()
    if bucket and not re.fullmatch(r"M[0-9]\+?", bucket):
        raise ValueError(f"bucket must look like M0, M1, M2 ..., not {get('bucket')!r}")
    if bucket:
        out["bucket"] = bucket
    elif "days_past_due" in out:
        d = out["days_past_due"]
        out["bucket"] = "M0" if d <= 0 else f"M{min(6, (d + 29) // 30)}"
    if get("id_last4"):
        if not re.fullmatch(r"[0-9Xx]{4}", get("id_last4")):
            raise ValueError(f"id_last4 must be 4 digits, not {get('id_last4')!r}")
        out["id_last4"] = get("id_last4").upper()
    if get("credit_limit"):
        out["credit_limit"] = _number(get("credit_limit"), "credit_limit")
    for flag in ("consent_calls", "consent_marketing", "consent_recording"):
        if get(flag):
            out[flag] = _bool(get(flag), flag)
    custom = {}
    for k, v in raw.items():
        if k is None or k in KNOWN_COLUMNS:
            continue
        key = k[len(CUSTOM_PREFIX):] if k.startswith(CUSTOM_PREFIX) else k
        if key and _clean(v):
            custom[key.strip()] = _clean(v)
    if custom:
        out["custom"] = custom
    return out


def _defaults(values: dict[str, Any]) -> dict[str, Any]:
    j = values["jurisdiction"]
    return {
        "purpose": "collections", "balance": 0.0, "currency": DEFAULT_CURRENCY[j], "days_past_due": 0,
        "id_last4": "", "consent_calls": True, "consent_marketing": False, "consent_recording": True,
        "custom": {},
    } | values


def _open_text(source: str | Path | IO[str] | IO[bytes]) -> tuple[IO[str], bool]:
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise UserError(f"no such file: {p}")
        return open(p, newline="", encoding="utf-8-sig"), True
    if isinstance(source, io.TextIOBase):
        return source, False
    return io.TextIOWrapper(source, encoding="utf-8-sig", newline=""), False  # type: ignore[arg-type]


def read_rows(source: str | Path | IO[str] | IO[bytes], as_of: date | None = None
              ) -> tuple[list[tuple[int, dict[str, Any]]], ImportResult]:
    """Parse and validate the whole file. Returns ((line, values) for good rows, result with errors)."""
    as_of = as_of or date.today()
    fh, owned = _open_text(source)
    result = ImportResult()
    good: list[tuple[int, dict[str, Any]]] = []
    try:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise UserError(f"the CSV header lacks column(s) {', '.join(missing)}; see docs/import.md")
        reader.fieldnames = header
        seen: dict[str, int] = {}
        line = 1
        for raw in reader:
            line = reader.line_num
            # where the record starts: blank lines are skipped by csv, quoted fields may hold newlines
            line_start = line - sum(v.count("\n") for v in raw.values() if isinstance(v, str))
            result.rows += 1
            eid = _clean(raw.get("external_id")) or None
            if None in raw:
                result.errors.append(RowError(line_start, "more fields than the header has", eid))
                continue
            try:
                values = validate_row(raw, as_of)
            except ValueError as exc:
                result.errors.append(RowError(line_start, str(exc), eid))
                continue
            if values["external_id"] in seen:
                result.errors.append(RowError(
                    line_start, f"external_id repeats line {seen[values['external_id']]}", eid))
                continue
            seen[values["external_id"]] = line_start
            good.append((line_start, values))
    except csv.Error as exc:
        raise UserError(f"the file is not valid CSV near line {line}: {exc}") from None
    except UnicodeDecodeError:
        raise UserError("the file is not UTF-8 text; save it as UTF-8 CSV") from None
    finally:
        if owned:
            fh.close()
    return good, result


def _chunks(seq: list, n: int) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def write_accounts(session, rows: list[dict[str, Any]], progress: Callable[[int, int], None] | None = None
                   ) -> tuple[int, int]:
    """Insert new external ids and update known ones in ``session`` (the caller's transaction)."""
    from sqlalchemy import insert, select, update

    from agent.store.models import Account, new_id, utcnow

    created = updated = done = 0
    for chunk in _chunks(rows, 500):
        ids = [r["external_id"] for r in chunk]
        existing = {
            eid: (pk, custom or {})
            for pk, eid, custom in session.execute(
                select(Account.id, Account.external_id, Account.custom).where(Account.external_id.in_(ids))
            )
        }
        inserts, updates = [], []
        now = utcnow()
        for r in chunk:
            if r["external_id"] in existing:
                pk, custom = existing[r["external_id"]]
                vals = dict(r, id=pk, updated_at=now)
                if "custom" in r:
                    vals["custom"] = {**custom, **r["custom"]}
                updates.append(vals)
            else:
                inserts.append(_defaults(r) | {"id": new_id(), "created_at": now, "updated_at": now})
        if inserts:
            session.execute(insert(Account), inserts)
        # bulk UPDATE by primary key needs the same keys in each dict: group by key set
        by_keys: dict[tuple[str, ...], list[dict]] = {}
        for u in updates:
            by_keys.setdefault(tuple(sorted(u)), []).append(u)
        for group in by_keys.values():
            session.execute(update(Account), group)
        created += len(inserts)
        updated += len(updates)
        done += len(chunk)
        if progress:
            progress(done, len(rows))
    return created, updated


def import_csv(
    source: str | Path | IO[str] | IO[bytes],
    *,
    skip_bad: bool = False,
    db_url: str | None = None,
    session=None,
    as_of: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate and import a portfolio CSV. Raises `ImportRejected` (a UserError, nothing written) when a
    row is bad and ``skip_bad`` is False. Writes in ``session`` if given (caller commits), else in one
    `session_scope(url)` transaction."""
    good, result = read_rows(source, as_of)
    if result.errors and not skip_bad:
        raise ImportRejected(result)
    result.skipped = len(result.errors)
    rows = [v for _, v in good]
    if session is not None:
        result.created, result.updated = write_accounts(session, rows, progress)
        return result
    from agent.store.db import session_scope

    with session_scope(db_url) as s:
        result.created, result.updated = write_accounts(s, rows, progress)
    return result
