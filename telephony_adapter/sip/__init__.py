"""The SIP network: dialwise as a SIP user agent on PJSIP (pjsua2), dialing out through a trunk.

- options.py   SipOptions, the typed settings of the user agent
- stack.py     the one PJSIP endpoint of a process and its sip-api thread
- leg.py       one call leg: pjsua2 callbacks handed over to asyncio, the media port, early-media gate
- transport.py SipTransport, an answered call as a Transport for the call session
- ua.py        SipUserAgent: account/registration, dialing, OPTIONS keepalive
- results.py   final SIP responses as dial results
"""
from telephony_adapter.sip.options import SipConfigError, SipOptions, parse_codecs
from telephony_adapter.sip.results import describe, dial_result
from telephony_adapter.sip.transport import SipTransport
from telephony_adapter.sip.ua import DialAttempt, SipUserAgent

__all__ = ["DialAttempt", "SipConfigError", "SipOptions", "SipTransport", "SipUserAgent", "describe",
           "dial_result", "parse_codecs"]
