"""Twilio's REST Calls resource through the official `twilio` package: place, redirect, hang up.

The package's Api domain is pointed at `twilio_api_base_url` (https://api.twilio.com by default;
regional edges, proxies and test carriers set it). Every method blocks: call it via
`asyncio.to_thread`. Failures surface as `TwilioError` subclasses carrying one clear sentence.
"""
from __future__ import annotations

import logging
from typing import Any

from telephony_adapter.twilio import STATUS_EVENTS, TWIML_PATH, status_callback_url, stream_twiml, transfer_twiml

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"


class TwilioError(Exception):
    """The call could not be placed or changed. The message is for humans."""


class TwilioSetupError(TwilioError):
    """A setting is missing (account, token, caller id, public URL)."""


class TwilioRefused(TwilioError):
    """Twilio answered with an HTTP error (its JSON carries `code` and `message`)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"Twilio refused the request (HTTP {status}, code {code}): {message}")


class TwilioUnreachable(TwilioError):
    """No HTTP answer at all (DNS, connection refused, timeout)."""


class TwilioRest:
    """Placement, transfer and hang-up through Twilio's REST API (blocking; call via to_thread).

    `settings` needs: twilio_account_sid, twilio_auth_token, twilio_from_number, public_base_url,
    and optionally twilio_api_base_url and transfer_number."""

    def __init__(self, settings: Any, client: Any | None = None, *, http_timeout: float = 15.0) -> None:
        self.settings = settings
        self._client = client
        self.http_timeout = http_timeout

    @property
    def api_base_url(self) -> str:
        return (getattr(self.settings, "twilio_api_base_url", "") or DEFAULT_API_BASE).rstrip("/")

    @property
    def client(self) -> Any:
        if self._client is None:
            if not (self.settings.twilio_account_sid and self.settings.twilio_auth_token):
                raise TwilioSetupError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to place Twilio calls")
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            client = Client(self.settings.twilio_account_sid, self.settings.twilio_auth_token,
                            http_client=TwilioHttpClient(timeout=self.http_timeout))
            client.api.base_url = self.api_base_url  # the Api domain (Calls lives there)
            self._client = client
        return self._client

    def place_call(self, call_id: str, to: str, from_: str | None = None, *, use_url: bool = False,
                   timeout_s: int | None = None) -> str:
        """Dial `to`; when answered Twilio opens our media stream. Returns the CallSid.

        The TwiML goes inline (`Twiml`) or, with `use_url`, Twilio fetches it signed from our
        /twilio/twiml/{call_id}. `timeout_s`: how long it rings before `no-answer` (Twilio: 60)."""
        caller = from_ or self.settings.twilio_from_number
        if not caller:
            raise TwilioSetupError("TWILIO_FROM_NUMBER (the caller id) must be set to place Twilio calls")
        base = (self.settings.public_base_url or "").rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise TwilioSetupError(f"PUBLIC_BASE_URL must be an http(s) URL Twilio can reach, not {base!r}")
        kwargs: dict[str, Any] = {
            "to": to,
            "from_": caller,
            "status_callback": status_callback_url(base, call_id),
            "status_callback_event": STATUS_EVENTS,
            "status_callback_method": "POST",
        }
        if use_url:
            kwargs.update(url=f"{base}{TWIML_PATH}/{call_id}", method="POST")
        else:
            kwargs["twiml"] = stream_twiml(call_id, base)
        if timeout_s is not None:
            kwargs["timeout"] = int(timeout_s)
        call = self._call(lambda: self.client.calls.create(**kwargs))
        return call.sid

    def redirect_to_human(self, call_sid: str, target: str) -> None:
        self._call(lambda: self.client.calls(call_sid).update(twiml=transfer_twiml(target)))

    def hang_up(self, call_sid: str) -> None:
        self._call(lambda: self.client.calls(call_sid).update(status="completed"))

    def _call(self, fn: Any) -> Any:
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            return fn()
        except TwilioRestException as exc:
            raise TwilioRefused(int(exc.status), exc.code, str(exc.msg or "")) from None
        except TwilioServiceException as exc:  # RFC 9457 problem documents
            detail = getattr(exc, "detail", None) or getattr(exc, "title", "")
            raise TwilioRefused(int(getattr(exc, "status", 0) or 0), getattr(exc, "code", None), str(detail)) from None
        except TwilioError:
            raise
        except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
            raise TwilioUnreachable(f"cannot reach Twilio at {self.api_base_url}: {type(exc).__name__}") from None
