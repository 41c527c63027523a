"""Entity extraction: amounts, dates (incl. month/year rollover), times of day, last-4 digits."""
from __future__ import annotations

import datetime as dt

import pytest

from nlu.bench import entity_rows
from nlu.entities import extract
from nlu.entities.amount import extract_amount
from nlu.entities.dates import extract_date
from nlu.entities.last4 import extract_last4
from nlu.entities.numbers import parse_zh_number
from nlu.entities.timeofday import extract_time

WED = dt.date(2025, 3, 12)  # a Wednesday


@pytest.mark.parametrize("row", entity_rows(), ids=lambda r: r["text"])
def test_entity_table(row):
    assert extract(row["text"], row["lang"], row["today"], row["context"]) == row["expect"]


@pytest.mark.parametrize("text,lang,value", [
    ("2000", "en", 2000), ("1,250", "en", 1250), ("$49.99", "en", 49.99), ("1.5k", "en", 1500),
    ("1.5万", "zh", 15000), ("两千五", "zh", 2500), ("三百五", "zh", 350), ("一万二", "zh", 12000),
    ("fifteen hundred", "en", 1500), ("five hundred and fifty", "en", 550), ("我还两千块钱", "zh", 2000),
    ("a hundred bucks", "en", 100), ("3千", "zh", 3000), ("I'll pay 1,250.50 on friday", "en", 1250.5),
])
def test_amounts(text, lang, value):
    assert extract_amount(text.lower(), lang) == pytest.approx(value)


@pytest.mark.parametrize("text,lang", [
    ("on the 25th", "en"), ("下个月15号", "zh"), ("after five", "en"), ("分三个月还", "zh"),
    ("in three days", "en"), ("一二三四", "zh"), ("one two three four", "en"), ("还一点", "zh"),
    ("三点半打给我", "zh"), ("call at 8:30 tonight", "en"), ("December 1st", "en"), ("先还一部分", "zh"),
])
def test_not_amounts(text, lang):
    assert extract_amount(text.lower(), lang) is None


def test_zh_numerals():
    assert parse_zh_number("一千零五十") == 1050
    assert parse_zh_number("二十五") == 25
    assert parse_zh_number("两万五千") == 25000
    assert parse_zh_number("一二三四") is None  # digit-by-digit is not a quantity


@pytest.mark.parametrize("text,lang,today,expected", [
    ("月底", "zh", dt.date(2025, 12, 31), "2025-12-31"),
    ("下个月15号", "zh", dt.date(2025, 12, 5), "2026-01-15"),
    ("二十五号", "zh", dt.date(2025, 12, 28), "2026-01-25"),
    ("the 25th", "en", dt.date(2025, 12, 28), "2026-01-25"),
    ("12月1号", "zh", dt.date(2025, 12, 5), "2026-12-01"),
    ("31号", "zh", dt.date(2025, 2, 3), "2025-03-31"),
    ("end of the month", "en", dt.date(2024, 2, 3), "2024-02-29"),
    ("大后天", "zh", dt.date(2025, 12, 30), "2026-01-02"),
    ("a week from today", "en", dt.date(2025, 12, 29), "2026-01-05"),
    ("下周一", "zh", dt.date(2025, 3, 16), "2025-03-17"),   # said on a Sunday
    ("this coming monday", "en", dt.date(2025, 3, 17), "2025-03-24"),  # said on a Monday
    ("next month on the 15th", "en", dt.date(2025, 12, 20), "2026-01-15"),
])
def test_date_rollover(text, lang, today, expected):
    assert extract_date(text, lang, today) == expected


def test_no_date():
    assert extract_date("我没钱", "zh", WED) is None
    assert extract_date("i can't pay", "en", WED) is None


@pytest.mark.parametrize("text,lang,expected", [
    ("下午三点以后", "zh", "15:00"), ("after five", "en", "17:00"), ("tomorrow morning", "en", "09:00"),
    ("晚上八点半", "zh", "20:30"), ("call me at 7:45 pm", "en", "19:45"), ("上午十点", "zh", "10:00"),
    ("around 11 am", "en", "11:00"), ("i'm busy", "en", None), ("我没钱", "zh", None),
])
def test_times(text, lang, expected):
    assert extract_time(text, lang) == expected


@pytest.mark.parametrize("text,lang,context,expected", [
    ("一二三四", "zh", None, "1234"), ("one two three four", "en", None, "1234"), ("1 2 3 4", "en", None, "1234"),
    ("身份证后四位是零九八七", "zh", None, "0987"), ("it ends in 5 5 0 1", "en", None, "5501"),
    ("double two three four", "en", None, "2234"), ("3344", "en", "id_last4", "3344"),
    ("I'll pay 2000 tomorrow", "en", None, None), ("我明天还两千", "zh", None, None),
])
def test_last4(text, lang, context, expected):
    assert extract_last4(text.lower(), lang, context) == expected


@pytest.mark.parametrize("text,lang,expected", [
    # "the last four" names the digits: three digits after it are three of four (session 15: the dev turn
    # "The last four {d1} {d2} {d3}, {d4}" read to its pause was taken as four digits, and the caller cut off)
    ("The last four seven seven one.", "en", None), ("the last four one seven seven", "en", None),
    ("my last four digits are seven seven one two", "en", "7712"), ("the last 4 are 5 6 7 8", "en", "5678"),
    ("last four, 1 2 3 4", "en", "1234"), ("four four one two", "en", "4412"), ("final four is 9 9 0", "en", None),
    # 四位 counts digits ("four digits"), even when Whisper writes 后 as another character
    ("二四位七六五", "zh", None), ("后四位七六五", "zh", None), ("后四位是七六五三", "zh", "7653"),
    ("四四一二", "zh", "4412"),
])
def test_last4_the_count_of_digits_is_not_a_digit(text, lang, expected):
    assert extract_last4(text.lower(), lang, "id_last4") == expected


@pytest.mark.parametrize("text,lang,expected", [
    # how Whisper writes digits read one by one, at the ID question (context id_last4)
    ("5260.", "en", "5260"), ("1-815.", "en", "1815"), ("908-3", "en", "9083"), ("O166.", "en", "0166"),
    ("four five, six seven", "en", "4567"), ("forty five sixty seven", "en", "4567"), ("1,3,1,8", "en", "1318"),
    ("yi er san si", "zh", "1234"), ("幺三五七", "zh", "1357"), ("1865﹑1865﹑1865。", "zh", "1865"),
    ("60916091609160916", "zh", "6091"), ("尾号五六七八", "zh", "5678"), ("5.6.0", "zh", None),
    ("我一会儿再说", "zh", None), ("两千五百块", "zh", None), ("not him", "en", None),
])
def test_last4_at_the_digits_question(text, lang, expected):
    from nlu.entities import extract

    assert extract(text, lang, context="id_last4")["last4"] == expected


@pytest.mark.parametrize("text,lang,expected", [
    ("1-815", "en", []), ("45 67", "en", []), ("一二三四", "zh", ["1234"]), ("三四天", "zh", ["34"]),
    ("两千", "zh", []), ("十二", "zh", []), ("one two, three", "en", ["123"]), ("uh yi er", "zh", ["12"]),
    ("I went to four shops", "en", []),
])
def test_spoken_digit_runs_outside_the_digits_question(text, lang, expected):
    from nlu.entities.digits import digit_runs

    assert digit_runs(text, lang) == expected


@pytest.mark.parametrize("text,context,expected", [
    # 是 and 十 differ only in tone: "是一二三四吧" written "十一二三四吧" (session 16, over the Twilio path)
    ("十一二三四吧", "id_last4", "1234"), ("尾号十一二三四", "id_last4", "1234"), ("十二三四五。", "id_last4", "2345"),
    ("是一二三四吧", "id_last4", "1234"),
    # a 十 after a digit, or before fewer than three, is the number ten; and only where digits were asked for
    ("二十一二三四", "id_last4", None), ("十一号", "id_last4", None), ("十一二三四", "payment", None),
])
def test_a_ten_before_four_spoken_digits_is_the_copula_misheard(text, context, expected):
    assert extract(text, "zh", context=context)["last4"] == expected


@pytest.mark.parametrize("text,context,expected", [
    # 幺 (yāo, the 1 of phone numbers) written as a homophone, before three digits, where digits were asked for
    ("摇三五七。", "id_last4", "1357"), ("姚三五七", "id_last4", "1357"), ("尾号是腰二三四", "id_last4", "1234"),
    ("幺三五七", "id_last4", "1357"),
    # not before fewer than three digits, not after a digit, not as a word, not where no digits were asked for
    ("腰三五", "id_last4", None), ("摇一摇", "id_last4", None), ("姚三五七", "payment", None),
])
def test_a_yao_homophone_before_three_digits_is_the_one_of_phone_numbers(text, context, expected):
    assert extract(text, "zh", context=context)["last4"] == expected


def test_extract_garbage_never_raises():
    for junk in ["", "   ", "😀😀😀", "\x00\x07\x1b", "9" * 5000, "一" * 5000, "$$$,,,...", "月月号号"]:
        out = extract(junk, "zh", WED)
        assert set(out) == {"amount", "date", "time", "last4"}


def test_the_one_chinese_speller_reads_back_and_knows_liang():
    from nlu.entities.numbers import spell_zh

    for n in (0, 2, 12, 200, 2222, 10200, 20100, 102000, 12500, 100000000):
        assert parse_zh_number(spell_zh(n)) == n and parse_zh_number(spell_zh(n, liang=False)) == n
    assert spell_zh(2200) == "两千两百" and spell_zh(2200, liang=False) == "二千二百"
    assert spell_zh(2, liang=False) == "二"  # 二月二号, not 两月两号


def test_render_tts_and_the_simulated_customer_share_the_speller():
    from datetime import date

    from dialogs.render import zh_number
    from nlu.entities.numbers import spell_zh
    from speech.tts.text import zh_numbers_to_words
    from telephony_adapter.sim.persona import say_amount, say_date

    assert zh_number is spell_zh
    assert zh_numbers_to_words("还款10200元, 第2期, 利率3.5%") == "还款一万零两百元, 第二期, 利率百分之三点五"
    assert say_date(date(2020, 2, 2), "zh") == "二月二号"
    assert say_amount(2200, "CNY", "zh") == "两千两百块"


@pytest.mark.parametrize("lang,text,context,expected", [
    # a doubled digit written once too often at the ID question (session 20: two English demo calls, "0443" read
    # "It's 04443." and "9002" read "It's 90002.", failed the ID check three times over)
    ("en", "It's 90002.", "id_last4", "9002"), ("en", "It's 04443.", "id_last4", "0443"),
    ("en", "It's eight nine nine nine seven.", "id_last4", "8997"), ("en", "The last four are 90002.", None, "9002"),
    # not in Mandarin: a leading extra digit is as likely there, 是 written as 四 ("是七七七一" read "四七七七一" in a
    # session 20 demo call); as before
    ("zh", "四七七七一", "id_last4", "7771"), ("zh", "尾号是90002", None, None),
    # four of a kind, six digits, or five without a triple: as before
    ("en", "It's 7771.", "id_last4", "7771"), ("zh", "七七七七一", "id_last4", "7771"),
    ("zh", "后四位三三三三二一", None, "3321"), ("zh", "尾号是12345", None, None),
    # five digits away from the ID question are an amount, not an ID
    ("en", "I can pay 30002", None, None), ("zh", "我要还30002块", None, None),
])
def test_a_doubled_digit_read_three_times_is_read_twice_where_digits_were_asked_for(lang, text, context, expected):
    assert extract(text, lang, context=context)["last4"] == expected
