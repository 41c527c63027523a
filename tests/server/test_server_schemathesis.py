"""Property-based run over the OpenAPI spec: no input makes the API answer 500. Bounded (< 1 min)."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from tests.server_helpers import seed_call, seed_campaign

EXAMPLES_PER_OPERATION = 8


def test_no_input_makes_the_api_answer_500(tmp_path):
    url = f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"
    app = create_app(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "admin")
    seed_call(url, tmp_path, campaign_id=seed_campaign(url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    calls = {"n": 0}

    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            calls["n"] += 1
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every failing operation, then report them together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:400]}")
    assert not failures, "\n".join(failures)
    assert calls["n"] >= len(operations)
