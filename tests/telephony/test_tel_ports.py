"""The tests' port picker never hands a browser a port it refuses (CI once drew 10080: net::ERR_UNSAFE_PORT)."""
from __future__ import annotations

import pytest

from telephony_adapter.sim.baresip import TCP, free_port_for
from tests.ports import BROWSER_UNSAFE, TEST_PORTS, free_port


def test_the_picker_never_draws_a_browser_unsafe_port() -> None:
    assert {free_port((10079, 10082)) for _ in range(60)} <= {10079, 10081}


def test_a_range_of_only_unsafe_ports_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no free port in 10080-10081"):
        free_port_for((TCP, 0), ports=(10080, 10081), skip=BROWSER_UNSAFE)


def test_the_only_unsafe_port_in_the_tests_range_is_listed() -> None:
    assert [p for p in BROWSER_UNSAFE if TEST_PORTS[0] <= p < TEST_PORTS[1]] == [10080]
