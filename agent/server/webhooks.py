"""CRM webhooks: outbox fan-out, signed delivery, retries with backoff and jitter, dead letters.

Everything lives in the database, so any number of processes can share the work:
- fan-out claims an outbox event by setting `dispatched_at` with a conditional UPDATE and, in the
  same transaction, writes one `webhook_deliveries` row per matching active subscription
  (unique on event and subscription, so a race can never deliver twice);
- a sender claims a due delivery with a conditional UPDATE that bumps `attempts` (the version) and
  pushes `next_attempt_at` out by a lease, so a crashed sender's work comes back after the lease;
- success marks it delivered; failure schedules the next try with exponential backoff and jitter,
  until the delivery is older than `max_age_s` (24 h by default), when it becomes `dead`.

Signatures follow Stripe's scheme: header `Dialwise-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, f"{t}." + raw body). Receivers verify with agent.server.webhook_receiver.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.id_masking import mask_slots
from agent.server.destinations import (
    DestinationRefused,
    IPNetwork,
    Resolver,
    check_destination,
    checked_addresses,
    configured_networks,
    parse_destination,
    system_resolver,
)
from agent.store.db import session_scope
from agent.store.models import OutboxEvent, WebhookDelivery, WebhookSubscription, utcnow
from agent.timeutil import as_utc

log = logging.getLogger("dialwise.webhooks")

EVENT_TYPES = (
    "call.started",
    "call.completed",
    "ptp.created",
    "optout.created",
    "dispute.created",
    "callback.requested",
    "transfer.requested",
    "promise.kept",
    "promise.broken",
    "call.flagged",
    "call.reviewed",
)
SIGNATURE_HEADER = "Dialwise-Signature"
USER_AGENT = "dialwise-webhooks/0.1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    return f"t={t},v1={compute_signature(secret, t, body)}"


REFUSED = "destination refused"  # final: the address is not one webhooks may reach
TIMED_OUT = "the receiver did not answer in time"
UNREACHABLE = "the receiver could not be reached"  # the same for a refused, reset or filtered port
FIXED_ERRORS = (TIMED_OUT, UNREACHABLE)


def failure_reason(status_code: int) -> str:
    """What is kept of a failed answer: the status and a fixed reason, never the receiver's body."""
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    return f"HTTP {status_code}: the receiver refused the delivery"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter. Defaults: 30 s, 1 min, 2 min, ... capped at 2 h, for 24 h."""

    base_s: float = 30.0
    factor: float = 2.0
    cap_s: float = 7200.0
    max_age_s: float = 24 * 3600.0
    jitter: float = 0.3  # the delay is drawn from [(1 - jitter) * d, d]
    lease_s: float = 120.0  # how long a claimed delivery is reserved for its sender
    timeout_s: float = 10.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        raw = min(self.cap_s, self.base_s * self.factor ** max(attempts - 1, 0))
        r = (rng or random).random()
        return raw * (1.0 - self.jitter * r)


def event_body(event: OutboxEvent, public_base_url: str = "") -> bytes:
    """The exact bytes sent for an event: the same on every retry."""
    data = dict(event.payload or {})
    if isinstance(data.get("slots"), dict):
        data["slots"] = mask_slots(data["slots"])
    call_id = data.get("call_id")
    if call_id and public_base_url:
        base = public_base_url.rstrip("/")
        url = data.get("transcript_url")
        if event.type == "call.completed" and not url:
            data["transcript_url"] = f"{base}/api/calls/{call_id}"
        elif isinstance(url, str) and url.startswith("/"):
            data["transcript_url"] = base + url
        if event.type == "call.completed":
            data.setdefault("console_url", f"{base}/console/call.html?id={call_id}")
    created = as_utc(event.created_at)
    doc = {
        "id": event.id,
        "type": event.type,
        "created_at": created.isoformat() if created else None,
        "data": data,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def _types_of(sub: WebhookSubscription) -> list[str]:
    raw = sub.event_types or {}
    return list(raw.get("types", [])) if isinstance(raw, dict) else list(raw)


def create_subscription(session: Session, url: str, event_types: list[str],
                        allow_networks: tuple[IPNetwork, ...] | None = None,
                        resolver: Resolver = system_resolver) -> WebhookSubscription:
    """A new subscription; the destination must be public (or in WEBHOOK_ALLOW_NETWORKS): 422 if not."""
    from agent.server.problems import Problem

    allowed = configured_networks() if allow_networks is None else allow_networks
    try:
        check_destination(url, allowed, resolver)
    except DestinationRefused as exc:
        raise Problem(422, f"'url': {exc}", errors=[{"field": "url", "message": str(exc)}]) from None
    unknown = sorted(set(event_types) - set(EVENT_TYPES) - {"*"})
    if unknown:
        raise Problem(422, f"unknown event type(s) {', '.join(unknown)}; use any of "
                      f"{', '.join(EVENT_TYPES)} or '*'")
    sub = WebhookSubscription(url=url, event_types={"types": sorted(set(event_types))},
                              secret=new_secret(), active=True)
    session.add(sub)
    session.flush()
    return sub


def redeliver(session: Session, delivery_id: str, now: datetime | None = None) -> WebhookDelivery | None:
    """Put a delivery (delivered, dead or pending) back in the queue to be sent now."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        return None
    row.status = "pending"
    row.next_attempt_at = now or utcnow()
    row.delivered_at = None
    # a re-send gets a fresh 24 h retry window
    row.created_at = now or utcnow()
    return row


@dataclass
class DeliveryJob:
    delivery_id: str
    attempts: int  # the value after the claim: our version
    url: str
    secret: str
    body: bytes
    event_id: str
    event_type: str
    created_at: datetime


@dataclass
class DispatchStats:
    fanned_out: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


@dataclass
class Dispatcher:
    """Moves outbox events to subscribers. Call `run_once()` in a loop, or `start()` a thread."""

    db_url: str
    public_base_url: str = ""
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], datetime] = utcnow
    batch: int = 50
    workers: int = 4
    name: str = field(default_factory=lambda: "d-" + secrets.token_hex(3))
    rng: random.Random = field(default_factory=random.Random)
    transport: httpx.BaseTransport | None = None
    allow_networks: tuple[IPNetwork, ...] | None = None  # None: WEBHOOK_ALLOW_NETWORKS
    resolver: Resolver = system_resolver

    def __post_init__(self) -> None:
        if self.allow_networks is None:
            self.allow_networks = configured_networks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=self.policy.timeout_s, transport=self.transport,
                                    headers={"User-Agent": USER_AGENT}, follow_redirects=False)

    # -- fan-out -------------------------------------------------------------------------
    def fan_out(self) -> int:
        """Turn undispatched outbox events into deliveries. Returns events handled."""
        now = self.clock()
        with session_scope(self.db_url) as s:
            ids = s.scalars(
                select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None))
                .order_by(OutboxEvent.created_at).limit(self.batch)
            ).all()
        done = 0
        for event_id in ids:
            try:
                with session_scope(self.db_url) as s:
                    res = s.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id == event_id, OutboxEvent.dispatched_at.is_(None))
                        .values(dispatched_at=now)
                    )
                    if res.rowcount != 1:
                        continue  # another process took it
                    event = s.get(OutboxEvent, event_id)
                    subs = s.scalars(select(WebhookSubscription)
                                     .where(WebhookSubscription.active.is_(True))).all()
                    for sub in subs:
                        types = _types_of(sub)
                        if event.type in types or "*" in types:
                            s.add(WebhookDelivery(event_id=event.id, subscription_id=sub.id,
                                                  status="pending", attempts=0,
                                                  next_attempt_at=now, created_at=now))
                done += 1
            except IntegrityError:  # a concurrent fan-out already wrote these deliveries
                continue
        return done

    # -- claiming ------------------------------------------------------------------------
    def claim(self) -> list[DeliveryJob]:
        now = self.clock()
        jobs: list[DeliveryJob] = []
        with session_scope(self.db_url) as s:
            due = s.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at).limit(self.batch)
            ).all()
        for delivery_id, attempts in due:
            with session_scope(self.db_url) as s:
                res = s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                           WebhookDelivery.attempts == attempts)
                    .values(attempts=attempts + 1,
                            next_attempt_at=now + timedelta(seconds=self.policy.lease_s))
                )
                if res.rowcount != 1:
                    continue
                d = s.get(WebhookDelivery, delivery_id)
                sub = s.get(WebhookSubscription, d.subscription_id)
                event = s.get(OutboxEvent, d.event_id)
                if sub is None or event is None or not sub.active:
                    d.status = "dead"
                    d.last_error = "subscription removed or inactive"
                    continue
                jobs.append(DeliveryJob(
                    delivery_id=d.id, attempts=attempts + 1, url=sub.url, secret=sub.secret,
                    body=event_body(event, self.public_base_url), event_id=event.id,
                    event_type=event.type, created_at=as_utc(d.created_at) or now,
                ))
        return jobs

    # -- sending -------------------------------------------------------------------------
    def send(self, job: DeliveryJob) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(job.secret, job.body),
            "Dialwise-Event-Id": job.event_id,
            "Dialwise-Event-Type": job.event_type,
            "Dialwise-Delivery-Id": job.delivery_id,
            "Dialwise-Attempt": str(job.attempts),
        }
        try:
            dest = parse_destination(job.url)
            address = checked_addresses(dest, self.allow_networks or (), self.resolver)[0]
        except DestinationRefused as exc:
            return None, f"{REFUSED}: {exc}"
        headers["Host"] = dest.host_header
        extensions = {"sni_hostname": dest.host} if dest.scheme == "https" and dest.address is None else {}
        try:  # the answer's body is never read: only its status is kept
            with self._client.stream("POST", dest.url_for(address), content=job.body, headers=headers,
                                     extensions=extensions) as resp:
                status_code = resp.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout):
            return None, UNREACHABLE
        except httpx.TimeoutException:
            return None, TIMED_OUT
        except httpx.HTTPError:
            return None, UNREACHABLE
        if 200 <= status_code < 300:
            return status_code, None
        return status_code, failure_reason(status_code)

    def record(self, job: DeliveryJob, status_code: int | None, error: str | None) -> str:
        now = self.clock()
        with session_scope(self.db_url) as s:
            guard = (WebhookDelivery.id == job.delivery_id, WebhookDelivery.attempts == job.attempts)
            if error is None:
                values: dict[str, Any] = dict(status="delivered", delivered_at=now,
                                              last_status_code=status_code, last_error=None)
                outcome = "delivered"
            elif error.startswith(REFUSED) or (now - job.created_at).total_seconds() >= self.policy.max_age_s:
                values = dict(status="dead", last_status_code=status_code, last_error=error)
                outcome = "dead"
            else:
                wait = self.policy.delay(job.attempts, self.rng)
                values = dict(next_attempt_at=now + timedelta(seconds=wait),
                              last_status_code=status_code, last_error=error)
                outcome = "failed"
            s.execute(update(WebhookDelivery).where(*guard).values(**values))
        if outcome != "delivered":
            log.info("webhook %s to subscription attempt %d: %s", job.delivery_id, job.attempts, error)
        return outcome

    def run_once(self) -> DispatchStats:
        stats = DispatchStats(fanned_out=self.fan_out())
        jobs = self.claim()
        if not jobs:
            return stats
        if len(jobs) == 1 or self.workers <= 1:
            results = [self.send(j) for j in jobs]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
                results = list(pool.map(self.send, jobs))
        for job, (code, err) in zip(jobs, results, strict=True):
            outcome = self.record(job, code, err)
            if outcome == "delivered":
                stats.delivered += 1
            elif outcome == "dead":
                stats.dead += 1
            else:
                stats.failed += 1
        return stats

    # -- background ----------------------------------------------------------------------
    def run_forever(self, interval_s: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                stats = self.run_once()
                busy = stats.delivered or stats.failed or stats.fanned_out
            except Exception:  # the database may be briefly away; try again soon
                log.exception("webhook dispatcher pass failed")
                busy = False
            if not busy:
                self._stop.wait(interval_s)

    def start(self, interval_s: float = 1.0) -> None:
        self._thread = threading.Thread(target=self.run_forever, args=(interval_s,),
                                        name=f"webhooks-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self._client.close()
