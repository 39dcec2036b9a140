"""Fixtures of the simulator's own tests: its base URL, a plain client and an OpenAI SDK.

`base` is the suite's simulator (tests/conftest.py), reset around each test; a module
that serves its own simulator overrides `base`, and `http` and `oai` follow it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import openai
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gateway.local.simulator import SimulatorApp

SIM_OPENAI_KEY = "sk-sim-openai-0123456789abcdef"  # any bearer key passes the simulator


@pytest.fixture
def base(sim: SimulatorApp) -> str:
    url: str = sim.state.url
    return url


@pytest.fixture
def http(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


@pytest.fixture
def oai(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=SIM_OPENAI_KEY, max_retries=0)
