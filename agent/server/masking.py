"""Keep personal data out of logs: phone numbers and names are masked before anything is written."""
from __future__ import annotations

import logging
import re

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


def mask_text(text: str) -> str:
    text = _NAME_FIELD.sub(lambda m: m.group(1) + mask_name(m.group(2)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)) if sum(c.isdigit() for c in m.group(0)) >= 7
                      else m.group(0), text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks phones and names in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
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
