"""Lifecycle settings: promise matching (grace days, amount tolerance) and the real-time touch rules file.

Environment: DIALWISE_PROMISE_GRACE_DAYS (2), DIALWISE_PROMISE_TOLERANCE (0.02 of the amount),
DIALWISE_PROMISE_DEFAULT_DAYS (5: a promise without a date falls due this many days after the call),
DIALWISE_TOUCH_RULES (a JSON/YAML file of touch rules; default: agent/lifecycle/touches.py DEFAULT_RULES).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from agent.errors import UserError


@dataclass(frozen=True)
class PromisePolicy:
    grace_days: int = 2            # a promise is broken once this many days after its due date pass unpaid
    tolerance_ratio: float = 0.02  # paid >= amount x (1 - ratio) - tolerance_abs counts as kept
    tolerance_abs: float = 1.0
    default_days: int = 5

    def kept(self, paid: float, amount: float) -> bool:
        return paid >= amount * (1.0 - self.tolerance_ratio) - self.tolerance_abs


def _env_num(name: str, default, kind):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value < 0:
        raise UserError(f"{name} must not be negative")
    return value


def promise_policy() -> PromisePolicy:
    return PromisePolicy(
        grace_days=_env_num("DIALWISE_PROMISE_GRACE_DAYS", 2, int),
        tolerance_ratio=_env_num("DIALWISE_PROMISE_TOLERANCE", 0.02, float),
        default_days=_env_num("DIALWISE_PROMISE_DEFAULT_DAYS", 5, int),
    )
