"""What each scope may read of a person: keys without the `personal` permission (crm) see names and
phones masked, never the ID digits, and no recordings (docs/security.md)."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from agent.server.auth import Principal
from agent.server.masking import mask_name, mask_phone

HIDDEN_ID = "****"


def principal_of(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


def may_read_personal(request: Request) -> bool:
    principal = principal_of(request)
    return principal is not None and principal.can("personal")


def account_view(data: dict[str, Any], personal: bool) -> dict[str, Any]:
    """An account as the key may see it."""
    if personal:
        return data
    out = dict(data)
    out["name"] = mask_name(out.get("name"))
    out["phone"] = mask_phone(out.get("phone"))
    out["id_last4"] = HIDDEN_ID if out.get("id_last4") else ""
    return out


def name_view(name: str | None, personal: bool) -> str | None:
    return name if personal or name is None else mask_name(name)
