"""Call scripts: list those in the library and validate a script before use."""
from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from agent.server.api.deps import READ
from agent.server.api.schemas import ScriptValidateIn
from agent.server.problems import Problem

router = APIRouter(prefix="/api/scripts", tags=["scripts"])


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _library():
    try:
        from dialogs import library
    except ImportError:
        raise Problem(503, "the script library is not available in this build") from None
    return library


@router.get("", dependencies=[READ], summary="Scripts in the library")
def list_scripts() -> dict[str, Any]:
    items = _plain(_library().list_scripts())
    return {"items": items, "total": len(items)}


@router.post("/validate", dependencies=[READ], summary="Validate a script given as YAML")
def validate_script(body: ScriptValidateIn) -> dict[str, Any]:
    from agent.errors import UserError

    library = _library()
    fn = None
    for name in ("validate_text", "validate_yaml", "validate_source", "validate"):
        fn = getattr(library, name, None)
        if fn:
            break
    if fn is None:
        raise Problem(503, "script validation is not available in this build")
    try:
        result = fn(body.yaml)
    except UserError as exc:
        return {"valid": False, "errors": [str(exc)]}
    except ValueError as exc:  # parse errors (YAML, schema) are the script's fault, not ours
        return {"valid": False, "errors": [str(exc)]}
    if isinstance(result, list):  # a list of problems
        problems = [str(_plain(p)) if not isinstance(p, str) else p for p in result]
        return {"valid": not problems, "errors": problems}
    plain = _plain(result)
    if isinstance(plain, dict) and "valid" in plain:
        return plain
    return {"valid": True, "errors": [], "script": plain}
