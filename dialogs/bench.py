"""`dialwise bench dialogs`: policy speed on random callers, and scenario pass rates (labels, real NLU)."""
from __future__ import annotations

import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from dialogs.library import list_scripts, load_script, sample_account
from dialogs.policy import Policy
from dialogs.scenarios import load_scenarios, run_scenario
from dialogs.types import Dtmf, Event, Heard, Silence
from nlu.types import Understanding, intent_names

SCENARIO_DIR = Path(__file__).resolve().parent / "scenario_data"  # shipped with the package


MAX_STEPS_PER_CALL = 200  # far above any script; a call still open after this many steps is a stuck policy


def policy_speed(calls: int = 400, seed: int = 7, max_steps: int = MAX_STEPS_PER_CALL) -> dict[str, Any]:
    rng = random.Random(seed)
    intents = intent_names()
    scripts = [load_script(i.id) for i in list_scripts()]
    today = date(2026, 11, 16)
    steps = 0
    turns_per_call: list[int] = []
    stuck = 0
    t0 = time.perf_counter()
    for _ in range(calls):
        script = rng.choice(scripts)
        policy = Policy(script, sample_account(script.language, today), today)
        policy.start()
        n = 0
        while not policy.ended and n < max_steps:
            r = rng.random()
            ev: Event
            if r < 0.1:
                ev = Silence()
            elif r < 0.2:
                ev = Dtmf(rng.choice(["1", "0", "1234", "9"]))
            else:
                ents = {"last4": "1234"} if rng.random() < 0.3 else {}
                if rng.random() < 0.3:
                    ents["date"] = f"2026-11-{rng.randint(10, 30)}"
                ev = Heard(Understanding(rng.choice(intents), rng.random(), entities=ents))
            policy.step(ev)
            n += 1
        stuck += 0 if policy.ended else 1
        steps += n
        turns_per_call.append(n)
    dt = time.perf_counter() - t0
    return {"calls": calls, "steps": steps, "us_per_step": round(dt / max(steps, 1) * 1e6, 1),
            "max_turns_in_a_call": max(turns_per_call), "step_cap": max_steps,
            "calls_not_ended": stuck, "all_calls_ended": stuck == 0}


def scenario_rates(with_nlu: bool, folder: Path = SCENARIO_DIR) -> dict[str, Any]:
    scenarios = load_scenarios(folder)
    out: dict[str, Any] = {"scenarios": len(scenarios)}
    out["labels_pass"] = sum(not run_scenario(s) for s in scenarios)
    if with_nlu:
        try:
            from dialogs.converse import real_classifier

            classify = real_classifier()
            classify("好的", "zh")
        except Exception as exc:
            out["nlu_pass"] = None
            out["nlu_error"] = f"{type(exc).__name__}: {exc}"
            return out
        usable = [s for s in scenarios if s.nlu]  # some scenarios are about their labels (low confidence)
        failed = [s.name for s in usable if run_scenario(s, classify=classify)]
        out["nlu_scenarios"] = len(usable)
        out["nlu_pass"] = len(usable) - len(failed)
        out["nlu_failed"] = failed
    return out
