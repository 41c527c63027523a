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


def _check_yaml(text: str) -> dict[str, Any]:
    """Load the YAML as a flow file in a scratch folder (with any `extends` base from the library)."""
    import shutil
    import tempfile
    from pathlib import Path

    import yaml

    from dialogs.library import LIBRARY_DIR
    from dialogs.script import ScriptError, load_flow_file
    from dialogs.validate import validate_script

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return {"valid": False, "errors": [f"not valid YAML: {exc}"], "scripts": []}
    if not isinstance(doc, dict):
        return {"valid": False, "errors": ["the script must be a YAML mapping with a `flow:` section"],
                "scripts": []}
    with tempfile.TemporaryDirectory(prefix="dw-script-") as tmp:
        path = Path(tmp) / "script.yaml"
        path.write_text(text, encoding="utf-8")
        base = doc.get("extends")
        if isinstance(base, str) and "/" not in base and "\\" not in base:
            found = sorted(LIBRARY_DIR.rglob(base))
            if found:
                shutil.copy(found[0], Path(tmp) / base)
        try:
            scripts = load_flow_file(path)
        except ScriptError as exc:
            return {"valid": False, "errors": [str(p).replace(tmp + "/", "") for p in exc.problems],
                    "scripts": []}
        errors = [str(p).replace(tmp + "/", "") for sc in scripts for p in validate_script(sc)]
    return {"valid": not errors, "errors": errors, "scripts": [sc.id for sc in scripts]}


@router.post("/validate", dependencies=[READ], summary="Validate a script flow file given as YAML text")
def validate_script(body: ScriptValidateIn) -> dict[str, Any]:
    _library()
    return _check_yaml(body.yaml)
