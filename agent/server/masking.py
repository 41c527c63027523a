"""Keep personal data out of logs: phone numbers and names are masked before anything is written."""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote

# +8613812345678, 138-1234-5678, (415) 555-0100, 4155550100 ... at least 7 digits in a phone-like run
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{5,}\d(?![\w])")
_NAME_FIELD = re.compile(r'(?i)("?(?:name|full_name|customer_name|callee_name)"?\s*[:=]\s*"?)([^",}&\n]+)')


def mask_phone(phone: str | None) -> str:
    """Keep the country prefix and the last two digits: +86*********78."""
    if not phone:
        return ""
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 5:
        return "*" * len(digits)
    keep_head = 3 if phone.startswith("+") else 0
    head = "+" + "".join(digits[: keep_head - 1]) if keep_head else ""
    tail = "".join(digits[-2:])
    return head + "*" * (len(digits) - len(tail) - max(keep_head - 1, 0)) + tail


def mask_name(name: str | None) -> str:
    """First character and a fixed mask: 张** / J***."""
    if not name:
        return ""
    name = name.strip()
    return name[:1] + "***"


# API keys (dw_<prefix>_<secret>) and webhook secrets keep only what identifies them
_SECRET = re.compile(r"\b(dw_[0-9a-f]{1,16}_|whsec_)[A-Za-z0-9_\-]+")
# query parameters whose values are credentials: never logged at all
SECRET_PARAMS = frozenset({"key", "api_key", "apikey", "token", "access_token", "secret", "password",
                           "authorization", "signature", "session"})
# query parameters that hold no personal data: logged as they are (after the phone mask)
PLAIN_PARAMS = frozenset({"limit", "offset", "status", "language", "date_from", "date_to", "outcome",
                          "campaign_id", "account_id", "call_id", "script_id", "event_id",
                          "subscription_id", "skip_bad", "points", "network", "format"})


def mask_text(text: str) -> str:
    text = _SECRET.sub(lambda m: m.group(1) + "***", text)
    text = _NAME_FIELD.sub(lambda m: m.group(1) + mask_name(m.group(2)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)) if sum(c.isdigit() for c in m.group(0)) >= 7
                      else m.group(0), text)


def mask_target(target: str) -> str:
    """A request target (path and query) fit for a log: decoded first, then masked. Credentials in the
    query are dropped, free text (a search, a name) keeps one character, phones keep their ends."""
    path, sep, query = target.partition("?")
    shown = mask_text(unquote(path))
    if not sep:
        return shown
    params = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = name.lower()
        if key in SECRET_PARAMS:
            value = "***"
        elif key in PLAIN_PARAMS:
            value = mask_text(value)
        elif value:
            value = mask_phone(value) if _PHONE.fullmatch(value.strip()) else mask_name(value)
        params.append(f"{mask_text(name)}={value}")
    return shown + "?" + "&".join(params)


def _mask_arg(value: str) -> str:
    return mask_target(value) if value.startswith("/") else mask_text(value)


class MaskingFilter(logging.Filter):
    """A logging filter that masks phones and names in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            # uvicorn's access log hands over the raw, percent-encoded request target
            mask = _mask_arg if record.name.startswith("uvicorn") else mask_text
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install_masking(logger_names: tuple[str, ...] = ("", "uvicorn", "uvicorn.access", "uvicorn.error",
                                                     "dialwise")) -> None:
    """Attach the filter to the handlers of the given loggers (filters on handlers see child records)."""
    flt = MaskingFilter()
    for name in logger_names:
        lg = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in lg.filters):
            lg.addFilter(flt)
        for h in lg.handlers:
            if not any(isinstance(f, MaskingFilter) for f in h.filters):
                h.addFilter(flt)
