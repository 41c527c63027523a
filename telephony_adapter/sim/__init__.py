"""Simulated customers for the loopback line: personas, their voices, and a sample portfolio.

    from telephony_adapter.sim import Persona, Behaviour, SimulatedCustomer, sample_portfolio
"""
from telephony_adapter.sim.customer import FixtureBank, LogEntry, SimResult, SimulatedCustomer, run_persona_on_line
from telephony_adapter.sim.persona import Ask, Behaviour, Persona, PersonaMind, Reply, classify_agent_prompt
from telephony_adapter.sim.portfolio import SimAccount, persona_from_dict, persona_to_dict, sample_portfolio

__all__ = [
    "Ask", "Behaviour", "FixtureBank", "LogEntry", "Persona", "PersonaMind", "Reply", "SimAccount",
    "SimResult", "SimulatedCustomer", "classify_agent_prompt", "persona_from_dict", "persona_to_dict",
    "run_persona_on_line", "sample_portfolio",
]
