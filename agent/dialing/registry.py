"""Building the dialer for a network from this process's settings and models."""
from __future__ import annotations

from datetime import date

from agent.dialing.base import Dialer
from agent.dialing.place import check_network
from agent.pipeline import CallDeps


def build_dialer(network: str, deps: CallDeps, *, config=None, today: date | None = None,
                 db_url: str | None = None) -> Dialer:
    """The Dialer for `network`; its sessions run with `deps` (models) and `config` (call timing)."""
    from agent.dialing.loopback import LoopbackDialer, session_runner

    check_network(network)
    runner = session_runner(deps, config=config, today=today, db_url=db_url)
    if network == "loopback":
        return LoopbackDialer(deps, runner)
    if network == "twilio":
        from agent.dialing.twilio import TwilioDialer

        return TwilioDialer.from_settings(deps.settings, runner, db_url=db_url)
    from agent.dialing.sip import SipDialer

    return SipDialer.from_settings(deps.settings, runner, db_url=db_url)
