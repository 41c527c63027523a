"""Portfolio import: validation with line numbers, all-or-nothing, --skip-bad, update by external id, E.164."""
from __future__ import annotations

import io
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import func, select

from agent.campaign.importer import ImportRejected, import_csv, read_rows
from agent.store import init_db
from agent.store.db import session_scope
from agent.store.models import Account

HEADER = ("external_id,name,phone,timezone,region,jurisdiction,language,product,balance,currency,due_date,"
          "days_past_due,last_payment_date,consent_calls,consent_marketing,custom.branch,segment\n")
GOOD_ZH = "C-1,张三,138 1234 5678,,,,,card,\"12,000.50\",,2025-01-01,,2025-02-01,是,否,SH01,gold\n"
GOOD_EN = "U-1,John Smith,(415) 555-2671,America/Los_Angeles,,,en,loan,500,USD,,35,,yes,no,,\n"
BAD_PHONE = "C-2,李四,12345,,,,,,100,,,,,,,,\n"
BAD_BAL = "U-2,Jane Roe,+1 212 555 0100,,NY,,,,abc,,,,,,,,\n"
AS_OF = date(2025, 3, 1)


@pytest.fixture()
def url(tmp_path):
    return init_db(f"sqlite:///{tmp_path}/import.sqlite3")


def accounts(url):
    with session_scope(url) as s:
        return {a.external_id: a for a in s.scalars(select(Account))}


def test_good_rows_are_normalised(url):
    res = import_csv(io.StringIO(HEADER + GOOD_ZH + GOOD_EN), db_url=url, as_of=AS_OF)
    assert (res.created, res.updated, res.errors) == (2, 0, [])
    got = accounts(url)
    zh, en = got["C-1"], got["U-1"]
    assert zh.phone == "+8613812345678" and en.phone == "+14155552671"
    assert (zh.timezone, zh.jurisdiction, zh.language, zh.currency) == ("Asia/Shanghai", "CN", "zh", "CNY")
    assert (en.timezone, en.jurisdiction, en.language, en.currency) == ("America/Los_Angeles", "US", "en", "USD")
    assert zh.balance == 12000.5 and zh.days_past_due == 59 and zh.bucket == "M2"
    assert en.days_past_due == 35 and en.bucket == "M2"
    assert zh.consent_calls is True and zh.consent_marketing is False
    assert zh.last_payment_date == date(2025, 2, 1)
    assert zh.custom == {"branch": "SH01", "segment": "gold"}


def test_bad_rows_reported_with_line_numbers_and_nothing_written(url):
    text = HEADER + GOOD_ZH + BAD_PHONE + "\n" + GOOD_EN + BAD_BAL
    with pytest.raises(ImportRejected) as exc:
        import_csv(io.StringIO(text), db_url=url, as_of=AS_OF)
    errs = exc.value.result.errors
    assert [(e.line, e.external_id) for e in errs] == [(3, "C-2"), (6, "U-2")]
    assert "phone" in errs[0].reason and "balance" in errs[1].reason
    assert accounts(url) == {}  # all-or-nothing


def test_skip_bad_imports_the_good_rows(url):
    res = import_csv(io.StringIO(HEADER + GOOD_ZH + BAD_PHONE + GOOD_EN + BAD_BAL), db_url=url, skip_bad=True,
                     as_of=AS_OF)
    assert (res.rows, res.created, res.skipped) == (4, 2, 2)
    assert set(accounts(url)) == {"C-1", "U-1"}


def test_reimport_updates_by_external_id(url):
    import_csv(io.StringIO(HEADER + GOOD_ZH + GOOD_EN), db_url=url, as_of=AS_OF)
    first_id = accounts(url)["C-1"].id
    changed = "external_id,phone,name,balance,custom.note\nC-1,13912345678,张三,900,moved\n"
    res = import_csv(io.StringIO(changed), db_url=url, as_of=AS_OF)
    assert (res.created, res.updated) == (0, 1)
    got = accounts(url)
    assert len(got) == 2 and got["C-1"].id == first_id
    assert got["C-1"].balance == 900 and got["C-1"].phone == "+8613912345678"
    assert got["C-1"].custom == {"branch": "SH01", "segment": "gold", "note": "moved"}
    assert got["C-1"].days_past_due == 59  # a column the file does not carry keeps its value


@pytest.mark.parametrize("row,reason", [
    ("X,A,+8613812345678,Mars/Base,,,,,,,,,,,,,\n", "timezone"),
    ("X,A,+8613812345678,,,FR,,,,,,,,,,,\n", "jurisdiction"),
    ("X,A,+8613812345678,,,,fr,,,,,,,,,,\n", "language"),
    ("X,A,+8613812345678,,,,,,-5,,,,,,,,\n", "balance"),
    ("X,A,+8613812345678,,,,,,,,2025-13-01,,,,,,\n", "due_date"),
    ("X,A,+8613812345678,,,,,,,,,,2030-01-01,,,,\n", "future"),
    ("X,A,+8613812345678,,,,,,,,,,,maybe,,,\n", "consent_calls"),
    ("X,,+8613812345678,,,,,,,,,,,,,,\n", "name"),
    ("X,A,+44 20 7946 0018,,,,,,,,,,,,,,\n", "jurisdiction"),
    ("X,A,+8613812345678,,Atlantis,,,,,,,,,,,,\n", "region"),
])
def test_each_rule_names_its_column(row, reason):
    good, res = read_rows(io.StringIO(HEADER + row), as_of=AS_OF)
    assert not good and len(res.errors) == 1 and res.errors[0].line == 2
    assert reason in res.errors[0].reason


def test_region_and_phone_derive_time_zone():
    text = HEADER + "A,Ann,+1 212 555 0100,,NY,,,,,,,,,,,,\nB,Bo,2125550101,,,US,,,,,,,,,,,\n"
    good, res = read_rows(io.StringIO(text), as_of=AS_OF)
    assert not res.errors
    assert [v["timezone"] for _, v in good] == ["America/New_York", "America/New_York"]
    assert [v["phone"] for _, v in good] == ["+12125550100", "+12125550101"]


def test_duplicate_external_id_in_one_file_is_an_error():
    good, res = read_rows(io.StringIO(HEADER + GOOD_ZH + GOOD_ZH), as_of=AS_OF)
    assert len(good) == 1 and res.errors[0].line == 3 and "repeats line 2" in res.errors[0].reason


def test_missing_required_column_is_a_user_error():
    from agent.errors import UserError

    with pytest.raises(UserError, match="phone"):
        read_rows(io.StringIO("external_id,name\nA,B\n"))


def test_cli_import_exit_codes(tmp_path):
    csv_path = tmp_path / "p.csv"
    csv_path.write_text(HEADER + GOOD_ZH + BAD_PHONE, encoding="utf-8")
    env = {"VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-c", "from agent.cli import main; main()", "accounts", "import", str(csv_path)]
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "line 3" in bad.stderr and "Traceback" not in bad.stderr
    ok = subprocess.run(cmd + ["--skip-bad", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert '"created": 1' in ok.stdout and '"skipped": 1' in ok.stdout
    url = f"sqlite:///{(tmp_path / 'var' / 'dialwise.sqlite3').resolve()}"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 1
