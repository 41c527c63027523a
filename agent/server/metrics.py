"""Prometheus metrics, read from the database at scrape time so they cover every process.

Counters of the HTTP layer are per process; call figures come from the shared tables:
- dialwise_active_calls: calls whose status is live;
- dialwise_turn_latency_seconds / dialwise_asr_seconds: histograms fed from new turns
  (a watermark on turns.id, so each turn is observed once per server process);
- dialwise_dial_outcomes_total{result} and dialwise_call_outcomes_total{outcome};
- dialwise_webhook_deliveries{status}.
"""
from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from agent.store.db import session_scope
from agent.store.models import Attempt, Call, Turn, WebhookDelivery

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
ASR_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


class _DbCollector(Collector):
    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self):
        with session_scope(self.url) as s:
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

    def __init__(self, url: str) -> None:
        self.url = url
        self.registry = CollectorRegistry()
        self.turn_latency = Histogram("dialwise_turn_latency_seconds",
                                      "Voice-to-voice latency of agent replies",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.asr_time = Histogram("dialwise_asr_seconds", "Speech recognition time per utterance",
                                  buckets=ASR_BUCKETS, registry=self.registry)
        self.http_requests = Counter("dialwise_http_requests", "HTTP requests by status class",
                                     ["code"], registry=self.registry)
        self.registry.register(_DbCollector(url))
        self._watermark = 0
        self._lock = threading.Lock()

    def _observe_new_turns(self) -> None:
        with self._lock, session_scope(self.url) as s:
            rows = s.execute(select(Turn.id, Turn.latency).where(Turn.id > self._watermark)
                             .order_by(Turn.id).limit(100_000)).all()
            for turn_id, latency in rows:
                self._watermark = max(self._watermark, turn_id)
                lat = latency or {}
                v2v = lat.get("voice_to_voice_ms")
                if isinstance(v2v, (int, float)) and v2v >= 0:
                    self.turn_latency.observe(v2v / 1000.0)
                asr = lat.get("asr_ms")
                if isinstance(asr, (int, float)) and asr >= 0:
                    self.asr_time.observe(asr / 1000.0)

    def render(self) -> bytes:
        self._observe_new_turns()
        return generate_latest(self.registry)
