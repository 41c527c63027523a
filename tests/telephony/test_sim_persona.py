"""Personas (what the simulated customer thinks was asked, what it answers) and the sample portfolio.
Pure logic: no audio, no models."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import phonenumbers
import pytest

from telephony_adapter.sim.customer import VOICES_DIR, FixtureBank
from telephony_adapter.sim.persona import (
    Ask,
    Behaviour,
    Persona,
    PersonaMind,
    classify_agent_prompt,
    say_amount,
    say_date,
    say_digits,
)
from telephony_adapter.sim.portfolio import persona_from_dict, persona_to_dict, sample_portfolio

INTENTS_YAML = Path(__file__).resolve().parents[2] / "nlu" / "data" / "intents.yaml"


def persona(lang: str, behaviour: Behaviour, purpose: str = "collections", **kw) -> Persona:
    base = dict(lang=lang, behaviour=behaviour, name="王芳" if lang == "zh" else "Emily Davis",
                id_last4="0417", purpose=purpose, balance=2000.0, currency="CNY" if lang == "zh" else "USD",
                promise_date=date(2026, 3, 5), partial_amount=800.0, seed=3)
    base.update(kw)
    return Persona(**base)


@pytest.mark.parametrize("lang,text,expected", [
    ("zh", "您好，这里是安信金融，请问是王芳本人吗？", Ask.IDENTITY),
    ("zh", "為了核實身份，請告訴我您身份證後四位。", Ask.ID_LAST4),  # traditional characters from Whisper
    ("zh", "您的账单已经逾期十天了，请问您什么时候可以还款？", Ask.WHEN_PAY),
    ("zh", "那您今天能先还多少？", Ask.HOW_MUCH),
    ("zh", "跟您确认一下，您三月五号还两千元，对吗？", Ask.CONFIRM),
    ("zh", "我们有一个提额活动，您感兴趣吗？", Ask.OFFER),
    ("zh", "好的，感谢您的配合，再见。", Ask.CLOSING),
    ("zh", "请稍等，我帮您转接人工客服。", Ask.TRANSFER),
    ("zh", "喂，您还在吗？", Ask.PRESENCE),
    ("zh", "候士为", Ask.ID_LAST4),  # a homophone of 后四位: matched on pinyin
    ("zh", "嗯", Ask.UNCLEAR),
    # real Whisper-base transcripts of espeak-ng Mandarin over 8 kHz μ-law: no keyword survives
    ("zh", "为了保护您的心悲暗，千万我以下您身身奏马的最后之为", Ask.ID_LAST4),
    ("zh", "抱歉，我每天清楚，为了抱负您的心悲暗勤，请我以下您身身称奥马的最后之位。", Ask.ID_LAST4),
    ("zh", "抱歉，我每天清楚", Ask.REPEAT),
    ("zh", "今天天气很好，我们去公园散步吧", Ask.STATEMENT),
    ("zh", "抱歉，我没听清楚。", Ask.REPEAT),
    ("zh", "好的。需要我把还款链接通过短信发给您吗？", Ask.LINK),
    ("zh", "我们也可以帮您分成3期，每月还500，这样可以吗？", Ask.PROPOSAL),
    ("zh", "您好，您还在听吗？", Ask.PRESENCE),
    ("en", "Hi, this is Anna from Acme Finance. Am I speaking with Emily Davis?", Ask.IDENTITY),
    ("en", "For security, what are the last four digits of your ID?", Ask.ID_LAST4),
    ("en", "Your payment of 300 dollars is past due. When can you make a payment?", Ask.WHEN_PAY),
    ("en", "How much can you pay today?", Ask.HOW_MUCH),
    ("en", "Just to confirm, you'll pay 300 dollars on March 5th. Is that right?", Ask.CONFIRM),
    ("en", "You're pre-approved for a new loan. Would you be interested?", Ask.OFFER),
    ("en", "Thank you for your time. Goodbye.", Ask.CLOSING),
    ("en", "Please hold while I transfer you to a colleague.", Ask.TRANSFER),
    ("en", "Hello? Are you still there?", Ask.PRESENCE),
    ("en", "", Ask.UNCLEAR),
    ("en", "Sorry, I didn't catch that.", Ask.REPEAT),
    ("en", "Great. Would you like me to text you a payment link?", Ask.LINK),
    ("en", "Could you pay 100 dollars today, and the remaining 200 by March 9?", Ask.PROPOSAL),
    ("en", "When could you pay?", Ask.WHEN_PAY),
    ("en", "So now 3 monthly payments of $150, the first on the 25th, correct.", Ask.CONFIRM),  # Whisper's period
    ("en", "We can also flip it into free monthly payments of 150 dollars. Would that", Ask.PROPOSAL),
])
def test_classify_agent_prompt_both_languages(lang, text, expected):
    p = persona(lang, Behaviour.PAYS)
    assert classify_agent_prompt(text, lang, p) is expected


def test_behaviour_names_accept_common_aliases():
    assert Behaviour("promise_date") is Behaviour.PROMISES_DATE
    assert Behaviour("Asks-Human") is Behaviour.ASKS_HUMAN
    with pytest.raises(ValueError):
        Behaviour("sings")


def test_a_tag_question_alone_is_not_a_read_back():
    assert classify_agent_prompt("You borrowed from us before, right?", "en") is not Ask.CONFIRM


def run(mind: PersonaMind, asks: list[Ask]) -> list[tuple[str, str | None]]:
    out = []
    for a in asks:
        r = mind.answer(a)
        out.append((r.intent, r.text))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_payer_confirms_identity_gives_id_then_promises_full_amount_on_its_date(lang):
    mind = PersonaMind(persona(lang, Behaviour.PAYS))
    said = run(mind, [Ask.IDENTITY, Ask.ID_LAST4, Ask.WHEN_PAY, Ask.CONFIRM, Ask.CLOSING])
    assert [i for i, _ in said] == ["confirm_identity", "confirm_identity", "promise_to_pay", "affirm", "affirm"]
    assert said[1][1] == ("是零 四 一 七。" if lang == "zh" else "It's zero four one seven.")
    promise = said[2][1]
    assert say_date(date(2026, 3, 5), lang) in promise
    assert say_amount(2000, "CNY" if lang == "zh" else "USD", lang) in promise
    assert mind.said[-1].hang_up_after


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_behaviours_answer_with_their_intents(lang):
    cases = {
        Behaviour.WRONG_NUMBER: ["wrong_number", "wrong_number"],
        Behaviour.THIRD_PARTY: ["third_party", "deny"],
        Behaviour.ASKS_HUMAN: ["confirm_identity", "request_human"],
        Behaviour.DISPUTES: ["confirm_identity", "dispute_debt"],
        Behaviour.ALREADY_PAID: ["confirm_identity", "already_paid"],
        Behaviour.REFUSES: ["confirm_identity", "cannot_pay"],
        Behaviour.PARTIAL: ["confirm_identity", "request_installment"],
        Behaviour.SILENT: ["silence", "silence"],
        Behaviour.VOICEMAIL: ["silence", "silence"],
    }
    for behaviour, intents in cases.items():
        mind = PersonaMind(persona(lang, behaviour))
        assert [i for i, _ in run(mind, [Ask.IDENTITY, Ask.WHEN_PAY])] == intents, behaviour
    partial = PersonaMind(persona(lang, Behaviour.PARTIAL))
    run(partial, [Ask.IDENTITY, Ask.WHEN_PAY])
    intent, text = run(partial, [Ask.HOW_MUCH])[0]
    assert intent == "promise_to_pay" and say_amount(800, partial.p.currency, lang) in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_telesales_personas(lang):
    yes = PersonaMind(persona(lang, Behaviour.INTERESTED, purpose="telesales"))
    intents = [i for i, _ in run(yes, [Ask.IDENTITY, Ask.OFFER, Ask.OFFER, Ask.STATEMENT, Ask.CONFIRM])]
    assert intents[:2] == ["confirm_identity", "interested"]
    assert set(intents[2:4]) <= {"ask_interest_rate", "ask_credit_limit", "how_to_apply"}
    assert intents[4] == "affirm"
    no = PersonaMind(persona(lang, Behaviour.REFUSES, purpose="telesales"))
    assert [i for i, _ in run(no, [Ask.IDENTITY, Ask.OFFER, Ask.OFFER])] == [
        "confirm_identity", "not_interested", "stop_calling"]
    assert no.said[-1].hang_up_after


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_repeat_request_gets_the_same_line_again_and_proposals_get_yes_or_no(lang):
    mind = PersonaMind(persona(lang, Behaviour.PAYS))
    first = mind.answer(Ask.IDENTITY)
    again = mind.answer(Ask.REPEAT)
    assert (again.intent, again.text, again.fixture) == (first.intent, first.text, first.fixture)
    assert mind.answer(Ask.LINK).intent == "affirm"
    assert mind.answer(Ask.PROPOSAL).intent == "promise_to_pay"  # a payer keeps to its own date
    assert PersonaMind(persona(lang, Behaviour.REFUSES)).answer(Ask.LINK).intent == "deny"
    partial = PersonaMind(persona(lang, Behaviour.PARTIAL))
    assert [partial.answer(a).intent for a in (Ask.IDENTITY, Ask.WHEN_PAY, Ask.PROPOSAL)] == [
        "confirm_identity", "request_installment", "affirm"]


def test_hangs_up_persona_cuts_its_answer_short_at_its_turn():
    mind = PersonaMind(persona("en", Behaviour.HANGS_UP, hangup_at_turn=1))
    first, second = mind.answer(Ask.IDENTITY), mind.answer(Ask.WHEN_PAY)
    assert first.cut_short is None and second.cut_short == 0.5


def test_interjections_come_first_and_the_real_answer_follows():
    mind = PersonaMind(persona("zh", Behaviour.PAYS, interjections={0: "ask_who_calling", 2: "ask_if_robot"}))
    intents = [i for i, _ in run(mind, [Ask.IDENTITY, Ask.IDENTITY, Ask.WHEN_PAY, Ask.WHEN_PAY])]
    assert intents == ["ask_who_calling", "confirm_identity", "ask_if_robot", "promise_to_pay"]


def test_lost_words_are_filled_in_from_the_flow_of_the_call():
    mind = PersonaMind(persona("zh", Behaviour.PAYS))
    assert mind.answer(Ask.UNCLEAR, prompt_s=4.0).intent == "confirm_identity"  # the opener asks who
    assert mind.answer(Ask.STATEMENT).intent == "promise_to_pay"  # then the point of the call
    assert mind.last_ask is Ask.WHEN_PAY
    assert mind.answer(Ask.STATEMENT).intent == "affirm"  # then the read-back of the promise
    assert mind.last_ask is Ask.CONFIRM
    assert mind.answer(Ask.UNCLEAR, prompt_s=0.5).intent == "repeat_request"  # a short mumble


def test_answers_are_deterministic_given_the_seed():
    asks = [Ask.IDENTITY, Ask.OFFER, Ask.OFFER, Ask.OFFER, Ask.OFFER]

    def script(seed: int):
        mind = PersonaMind(persona("en", Behaviour.INTERESTED, purpose="telesales", seed=seed))
        return [(r.intent, r.text, r.fixture) for r in (mind.answer(a) for a in asks)]

    assert script(11) == script(11)
    assert any(script(s) != script(11) for s in range(12, 30))


def test_spoken_forms():
    assert say_date(date(2026, 3, 25), "zh") == "三月二十五号"
    assert say_date(date(2026, 3, 21), "en") == "March twenty-first"
    assert say_amount(2000, "CNY", "zh") == "两千块"
    assert say_amount(350, "USD", "en") == "350 dollars"
    assert say_digits("0917", "zh") == "零九一七"


def test_every_persona_intent_has_fixtures_in_both_languages():
    import yaml

    bank = FixtureBank()

    known = set(yaml.safe_load(INTENTS_YAML.read_text(encoding="utf-8"))["intents"])
    rows = [json.loads(x) for x in (VOICES_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
    assert len(rows) == 80 and all((VOICES_DIR / r["file"]).is_file() for r in rows)
    assert {r["intent"] for r in rows} <= known
    needed = {"confirm_identity", "wrong_number", "third_party", "ask_who_calling", "ask_if_robot",
              "repeat_request", "affirm", "deny", "request_human", "stop_calling", "promise_to_pay",
              "already_paid", "cannot_pay", "request_installment", "dispute_debt", "interested",
              "not_interested", "ask_interest_rate", "ask_credit_limit", "how_to_apply", "ask_amount_due"}
    for lang in ("zh", "en"):
        for intent in needed:
            assert bank.choices(lang, intent), (lang, intent)


def test_sample_portfolio_mixes_languages_purposes_and_behaviours():
    today = date(2026, 3, 1)
    accounts = sample_portfolio(20, seed=5, today=today)
    assert len(accounts) == 20
    assert Counter(a.language for a in accounts) == {"zh": 10, "en": 10}
    for a in accounts:
        num = phonenumbers.parse(a.phone)
        assert phonenumbers.is_valid_number(num), a.phone
        assert phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) == a.phone
        if a.language == "zh":
            assert (a.timezone, a.currency, a.jurisdiction) == ("Asia/Shanghai", "CNY", "CN")
            assert a.phone.startswith("+861")
        else:
            assert a.timezone.startswith("America/") and a.currency == "USD" and a.phone.startswith("+1")
        assert a.persona.lang == a.language and a.persona.name == a.name and a.persona.id_last4 == a.id_last4
        if a.purpose == "collections":
            assert a.bucket in ("M0", "M1", "M2") and a.balance > 0 and a.due_date is not None
            assert (a.due_date > today) == (a.bucket == "M0")
            assert (a.bucket == "M2") == (a.days_past_due > 30)
        else:
            assert a.product in ("reborrow", "limit_increase", "reactivation") and a.consent_marketing
    for lang in ("zh", "en"):
        mine = [a for a in accounts if a.language == lang]
        assert {a.bucket for a in mine if a.bucket} == {"M0", "M1", "M2"}
        assert {a.product for a in mine if a.purpose == "telesales"} == {"reborrow", "limit_increase", "reactivation"}
    behaviours = {a.persona.behaviour for a in accounts}
    assert len(behaviours) >= 10
    assert {Behaviour.PAYS, Behaviour.PROMISES_DATE, Behaviour.PARTIAL, Behaviour.INTERESTED} <= behaviours
    assert len({a.name for a in accounts}) == 20
    # deterministic, and the persona survives a round trip through Account.custom
    again = sample_portfolio(20, seed=5, today=today)
    assert [a.account_fields() for a in again] == [a.account_fields() for a in accounts]
    for a in accounts:
        fields = a.account_fields()
        assert persona_from_dict(json.loads(json.dumps(fields["custom"]["persona"]))) == a.persona
    assert sample_portfolio(20, seed=6, today=today)[0].name != accounts[0].name or \
        [a.phone for a in sample_portfolio(20, seed=6, today=today)] != [a.phone for a in accounts]


def test_portfolio_fields_fit_the_account_model():
    from agent.store.models import Account

    for a in sample_portfolio(4, seed=1):
        acct = Account(**a.account_fields())
        assert acct.phone == a.phone and acct.custom["persona"]["behaviour"] == a.persona.behaviour.value
    assert persona_to_dict(sample_portfolio(1)[0].persona)["lang"] == "zh"
