"""Speaking amounts, dates, times and numbers in zh and en; the safe expression language."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.expr import ExprError, evaluate, names, truthy
from dialogs.render import speak_amount, speak_date, speak_int, speak_time, zh_number

TODAY = date(2026, 11, 16)  # a Monday


@pytest.mark.parametrize("n,text", [
    (0, "零"), (2, "两"), (10, "十"), (12, "十二"), (20, "二十"), (22, "二十二"), (105, "一百零五"),
    (110, "一百一十"), (200, "两百"), (2000, "两千"), (2222, "两千两百二十二"), (10005, "一万零五"),
    (12500, "一万两千五百"), (20000, "两万"), (100000, "十万"), (1000000, "一百万"), (20100, "两万零一百"),
    (100000000, "一亿"), (305, "三百零五"),
])
def test_zh_number(n, text):
    assert zh_number(n) == text


@given(st.integers(min_value=1, max_value=10**11))
def test_zh_number_never_doubles_zero_or_ends_with_zero(n):
    text = zh_number(n)
    assert "零零" not in text and not text.endswith("零") and text


def test_amounts_both_languages():
    assert speak_amount(2000, "CNY", "en") == "2,000 yuan"
    assert speak_amount(2000, "CNY", "zh") == "两千元"
    assert speak_amount(12.5, "USD", "en") == "12 dollars and 50 cents"
    assert speak_amount(1, "USD", "en") == "1 dollar"
    assert speak_amount(12.5, "USD", "zh") == "十二美元五角"
    assert speak_amount(12.05, "CNY", "zh") == "十二元零五分"
    assert speak_amount(1250000, "CNY", "zh") == "一百二十五万元"


def test_dates_both_languages():
    assert speak_date("2026-11-20", "en", TODAY) == "Friday the 20th"
    assert speak_date("2026-11-20", "zh", TODAY) == "11月20日周五"
    assert speak_date("2026-12-04", "en", TODAY) == "Friday, December 4th"
    assert speak_date("2027-01-02", "zh", TODAY) == "2027年1月2日周六"
    assert speak_date("2026-11-22", "en", TODAY) == "Sunday the 22nd"
    assert speak_date("2026-11-11", "en", TODAY) == "Wednesday the 11th"


def test_times_and_ints():
    assert speak_time("15:30", "en") == "3:30 PM"
    assert speak_time("09:00", "en") == "9 AM"
    assert speak_time("15:30", "zh") == "下午3点半"
    assert speak_time("09:00", "zh") == "上午9点"
    assert speak_int(12, "zh") == "十二" and speak_int(1200, "en") == "1,200"


def test_expressions_evaluate_and_reject_unsafe_code():
    env = {"balance": 2000.0, "part_ratio": 0.3, "today": "2026-11-16", "pay_date": "2026-11-20", "x": None}
    assert evaluate("ceil_to(balance * part_ratio, 10)", env) == 600.0
    assert evaluate("days_between(today, pay_date)", env) == 4
    assert evaluate("add_days(today, 14)", env) == "2026-11-30"
    assert evaluate("x or balance", env) == 2000.0
    assert truthy("x > 3", env) is False  # None > 3 is an error -> false, not a crash
    assert names("min(balance, part_ratio) > y") == {"balance", "part_ratio", "y"}
    for bad in ("__import__('os')", "balance.real", "open('x')", "[c for c in 'ab']", "lambda: 1"):
        with pytest.raises(ExprError):
            evaluate(bad, env)
    with pytest.raises(ExprError):
        evaluate("nope + 1", env)
