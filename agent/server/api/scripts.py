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
    """Load the YAML as a flow file in a scratch folder. `extends` may name only one of the library's
    own base fragments (`_common.yaml`, from the folder of `flow.purpose`): it is checked before any
    file is opened, and errors name files only by their bare names."""
    import shutil
    import tempfile
    from pathlib import Path

    import yaml

    from dialogs.library import base_fragment
    from dialogs.script import ScriptError, load_flow_file
    from dialogs.validate import validate_script

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return _invalid(f"not valid YAML: {exc}")
    if not isinstance(doc, dict):
        return _invalid("the script must be a YAML mapping with a `flow:` section")
    base = doc.get("extends")
    base_path = None
    if base is not None:
        flow = doc.get("flow") if isinstance(doc.get("flow"), dict) else {}
        base_path = base_fragment(base, flow.get("purpose"))
        if base_path is None:
            return _invalid("extends: only the library's base fragments may be extended "
                            "(for example `extends: _common.yaml`)")
    with tempfile.TemporaryDirectory(prefix="dw-script-") as tmp:
        folder = Path(tmp).resolve()
        path = folder / "script.yaml"
        path.write_text(text, encoding="utf-8")
        if base_path is not None:
            shutil.copyfile(base_path, folder / base)
        try:
            scripts = load_flow_file(path)
        except ScriptError as exc:
            return _invalid(*(_local(p, folder) for p in exc.problems))
        errors = [_local(p, folder) for sc in scripts for p in validate_script(sc)]
    return {"valid": not errors, "errors": errors, "scripts": [sc.id for sc in scripts]}


def _local(problem: Any, folder: Any) -> str:
    """A problem as text, with the scratch folder (and any other server path) left out."""
    return str(problem).replace(str(folder) + "/", "").replace(str(folder), "")


def _invalid(*errors: str) -> dict[str, Any]:
    return {"valid": False, "errors": list(errors), "scripts": []}


@router.post("/validate", dependencies=[READ], summary="Validate a script flow file given as YAML text")
def validate_script(body: ScriptValidateIn) -> dict[str, Any]:
    _library()
    return _check_yaml(body.yaml)
