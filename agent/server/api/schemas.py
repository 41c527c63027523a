"""Pydantic shapes at the API seam."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from agent.timeutil import aware

T = TypeVar("T")

Language = Literal["zh", "en"]


# SQLite returns naive datetimes (stored as UTC): answer with an explicit offset everywhere
UtcDatetime = Annotated[datetime, AfterValidator(aware)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page, or null at the end")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    language: Language
    balance: float = Field(ge=0, le=1e12)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY or USD")
    due_date: date | None = None
    days_past_due: int = Field(0, ge=0, le=36500)
    product: str | None = Field(None, max_length=64)
    id_last4: str = Field("", pattern=r"^[0-9A-Za-z]{0,4}$", description="last 4 characters of the ID")
    phone: str = Field(min_length=3, max_length=32, description="E.164 preferred, e.g. +8613812345678")
    timezone: str = Field("Asia/Shanghai", max_length=64, description="IANA zone, e.g. America/New_York")
    external_id: str | None = Field(None, max_length=128)
    jurisdiction: Literal["CN", "US"] | None = None
    purpose: Literal["collections", "telesales"] = "collections"
    bucket: Literal["M0", "M1", "M2"] | None = None
    consent_calls: bool = True
    consent_marketing: bool = False
    consent_recording: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name like Asia/Shanghai") from None
        return v


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    external_id: str | None
    name: str
    phone: str
    timezone: str
    jurisdiction: str
    language: str
    purpose: str
    product: str | None
    bucket: str | None
    balance: float
    currency: str
    due_date: date | None
    days_past_due: int
    id_last4: str
    created_at: UtcDatetime | None


class Created(BaseModel):
    id: str


class ImportResult(BaseModel):
    imported: int
    updated: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = []


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    purpose: Literal["collections", "telesales"] = "collections"
    max_concurrent: int = Field(4, ge=1, le=1000)
    max_attempts: int = Field(3, ge=1, le=100)
    voicemail_policy: Literal["leave", "hangup"] = "leave"
    account_ids: list[str] = Field(default_factory=list, max_length=100000,
                                   description="accounts to call (optional): due as soon as the campaign "
                                               "starts, unless schedule is 'planner'")
    script_id: str | None = Field(None, max_length=64)
    network: Literal["loopback", "twilio", "sip"] | None = Field(
        None, description="network to dial on (default: the DIAL_NETWORK setting)")
    schedule: Literal["now", "planner"] = Field(
        "now", description="now: the given accounts are due when the campaign starts; planner: the planner "
                           "chooses each account's time (contact model, calling windows)")


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    purpose: str
    status: str
    max_concurrent: int
    max_attempts: int
    voicemail_policy: str
    network: str | None = None
    created_at: UtcDatetime | None


class CampaignPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent: int | None = Field(None, ge=1, le=1000, description="calls at a time, across all workers")
    network: Literal["loopback", "twilio", "sip"] | None = None
    max_attempts: int | None = Field(None, ge=1, le=100)


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: str
    campaign_id: str | None
    script_id: str
    status: str
    result: str | None
    blocked_rule: str | None
    attempt_no: int
    not_before: UtcDatetime | None
    dialed_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    network: str | None
    detail: str | None


class CallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account_id: str = Field(min_length=1, max_length=32)
    script_id: str = Field(min_length=1, max_length=64)
    transport: Literal["loopback", "twilio", "sip", "browser", "audiosocket"] = Field(
        "loopback", description="loopback, twilio, sip: dialwise dials. browser, audiosocket: the far end "
                                "connects to the call (softphone, Asterisk); the gate is asked all the same")
    dry_run: bool = Field(False, description="ask the gate and create the call, dial nothing (Twilio: "
                                             "answers with the TwiML a real dial would use)")


class TurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    speaker: str
    text: str
    node: str | None
    intent: str | None
    confidence: float | None
    entities: dict[str, Any]
    start_ms: int
    end_ms: int
    interrupted: bool
    latency: dict[str, Any]


class OutcomeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    promise_amount: float | None
    promise_date: date | None
    callback_at: UtcDatetime | None
    details: dict[str, Any]


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: str
    campaign_id: str | None
    script_id: str
    language: str
    transport: str
    status: str
    started_at: UtcDatetime | None
    ended_at: UtcDatetime | None
    outcome: str | None
    end_reason: str | None
    has_recording: bool = False
    account_name: str | None = Field(None, description="masked unless the key may read personal data")
    account_phone: str | None = Field(None, description="masked unless the key may read personal data")
    account_external_id: str | None = None
    account_timezone: str | None = Field(None, description="the callee's IANA zone")
    currency: str | None = None
    duration_ms: int | None = None
    promise_amount: float | None = None
    promise_date: date | None = None
    campaign_name: str | None = None
    review_score: float | None = Field(None, description="QA score 0-100 when reviewed")
    outcome_original: str | None = Field(None, description="the agent's outcome, when a review corrected it")
    review_tags: list[str] | None = None


class CallDetail(CallOut):
    slots: dict[str, Any]
    turns: list[TurnOut]
    outcome_detail: OutcomeOut | None = None


class ScriptValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=500_000, description="the script as YAML text")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no silent trimming: " http://..." is refused

    url: str = Field(min_length=8, max_length=1000, pattern=r"^https?://\S+$",
                     description="http(s) URL of a public address (or one in WEBHOOK_ALLOW_NETWORKS)")
    event_types: list[str] = Field(min_length=1, max_length=20)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: UtcDatetime | None
    secret: str | None = Field(None, description="signing secret; shown only when created")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    event_type: str | None = None
    subscription_id: str
    status: str
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: UtcDatetime | None
    created_at: UtcDatetime | None
