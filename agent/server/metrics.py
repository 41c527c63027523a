"""Prometheus metrics, read from the database at scrape time so they cover every process.

Counters of the HTTP layer are per process; call figures come from the shared tables:
- dialwise_active_calls: calls whose status is live;
- dialwise_turn_latency_seconds / dialwise_asr_seconds: histograms fed from the turns of calls
  that ended since the last scrape (each call observed once per server process);
- dialwise_dial_outcomes_total{result} and dialwise_call_outcomes_total{outcome};
- dialwise_webhook_deliveries{status}.
"""
from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from agent.store.db import session_scope
from agent.store.models import Attempt, Call, Turn, WebhookDelivery

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
ASR_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


class _DbCollector(Collector):
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def collect(self):
        with session_scope(self.db_url) as s:
            live = s.scalar(select(func.count()).select_from(Call).where(Call.status == "live")) or 0
            dials = s.execute(select(Attempt.result, func.count()).where(Attempt.result.is_not(None))
                              .group_by(Attempt.result)).all()
            outcomes = s.execute(select(Call.outcome, func.count()).where(Call.outcome.is_not(None))
                                 .group_by(Call.outcome)).all()
            deliveries = s.execute(select(WebhookDelivery.status, func.count())
                                   .group_by(WebhookDelivery.status)).all()
        g = GaugeMetricFamily("dialwise_active_calls", "Calls in progress (status live)")
        g.add_metric([], live)
        yield g
        c = CounterMetricFamily("dialwise_dial_outcomes", "Dial attempts by result", labels=["result"])
        for result, n in dials:
            c.add_metric([result], n)
        yield c
        c2 = CounterMetricFamily("dialwise_call_outcomes", "Ended calls by outcome", labels=["outcome"])
        for outcome, n in outcomes:
            c2.add_metric([outcome], n)
        yield c2
        g2 = GaugeMetricFamily("dialwise_webhook_deliveries", "Webhook deliveries by status",
                               labels=["status"])
        for status, n in deliveries:
            g2.add_metric([status], n)
        yield g2


class Metrics:
    """One registry per app: no global state shared between test apps."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.registry = CollectorRegistry()
        self.turn_latency = Histogram("dialwise_turn_latency_seconds",
                                      "Voice-to-voice latency of agent replies",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.asr_time = Histogram("dialwise_asr_seconds", "Speech recognition time per utterance",
                                  buckets=ASR_BUCKETS, registry=self.registry)
        self.http_requests = Counter("dialwise_http_requests", "HTTP requests by status class",
                                     ["code"], registry=self.registry)
        self.registry.register(_DbCollector(db_url))
        # turns are observed once their call has ended (their latency may be filled in after insert);
        # a watermark on calls.ended_at plus the ids at that exact instant keeps each call counted once
        self._ended_mark: datetime | None = None
        self._at_mark: set[str] = set()
        self._lock = threading.Lock()

    def _observe_ended_calls(self) -> None:
        with self._lock, session_scope(self.db_url) as s:
            stmt = select(Call.id, Call.ended_at).where(Call.status == "ended", Call.ended_at.is_not(None))
            if self._ended_mark is not None:
                stmt = stmt.where(Call.ended_at >= self._ended_mark)
            rows = [(cid, at) for cid, at in s.execute(stmt.order_by(Call.ended_at).limit(20_000)).all()
                    if cid not in self._at_mark]
            if not rows:
                return
            ids = [cid for cid, _ in rows]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for (latency,) in s.execute(select(Turn.latency).where(Turn.call_id.in_(chunk))).all():
                    self._observe(latency or {})
            last = rows[-1][1]
            if last != self._ended_mark:
                self._at_mark = set()
            self._ended_mark = last
            self._at_mark |= {cid for cid, at in rows if at == last}

    def _observe(self, lat: dict) -> None:
        v2v = lat.get("voice_to_voice_ms")
        if isinstance(v2v, (int, float)) and v2v >= 0:
            self.turn_latency.observe(v2v / 1000.0)
        asr = lat.get("asr_ms")
        if isinstance(asr, (int, float)) and asr >= 0:
            self.asr_time.observe(asr / 1000.0)

    def render(self) -> bytes:
        self._observe_ended_calls()
        return generate_latest(self.registry)
