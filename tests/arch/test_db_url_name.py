"""One name for the database URL parameter: `db_url` (issue 17). `create_app` still accepts its former
keyword `database_url`."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    ("agent/server/destinations.py", "parse_destination", "url"),  # a webhook destination, not a database
    ("agent/server/destinations.py", "check_destination", "url"),
    ("agent/server/webhooks.py", "create_subscription", "url"),
    ("agent/server/app.py", "create_app", "database_url"),  # the former name, kept for callers
}
# being rewritten on another branch; read them again when it lands
SKIP = ("agent/lifecycle/", "agent/dialing/twilio", "agent/server/telephony/", "agent/dialing/sip")


def test_functions_take_the_database_as_db_url():
    found = []
    for path in sorted((ROOT / "agent").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SKIP):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                for a in args:
                    if a.arg in ("url", "database_url", "dburl", "dsn") and (rel, node.name, a.arg) not in ALLOWED:
                        found.append(f"{rel}:{node.lineno} {node.name}({a.arg})")
    assert found == [], f"name the database URL parameter db_url: {found}"


def test_create_app_accepts_both_names(db_url):
    from agent.server.app import create_app

    assert create_app(db_url, init_db=False).state.db_url == db_url
    app = create_app(database_url=db_url, init_db=False)
    assert app.state.db_url == app.state.database_url == db_url
