"""In-memory simulator state: recorded requests, faults, the prompt cache."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.scenario import FAULTS

if TYPE_CHECKING:
    from gateway.local.simulator.scenario import PromptScan

DEFAULT_STALL_SECONDS = 30.0


def _default_stall() -> float:
    return float(os.environ.get("SIM_STALL_SECONDS", DEFAULT_STALL_SECONDS))


def check_fault(name: str) -> str:
    if name not in FAULTS:
        known = ", ".join(sorted(FAULTS))
        raise ValueError(f"unknown simulator fault {name!r}; known: {known}")
    return name


@dataclass
class SimState:
    """Everything the simulator remembers; ``reset()`` forgets it all."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fault: str | None = None
    fault_times: int | None = None  # remaining uses; None = until cleared
    stall_seconds: float = field(default_factory=_default_stall)
    cache_keys: set[str] = field(default_factory=set)
    seq: int = 0
    open_streams: int = 0  # responses still streaming (see engine._counted)
    spec_counts: dict[str, int] = field(default_factory=dict)  # requests per /_fault/{spec}
    # Google OAuth (``google_oauth``): with a key set, ``POST /token`` checks the JWT's RS256
    # signature against it; minted Vertex AI tokens (-> expiry) outlive ``reset()``, as a
    # client's token cache outlives a test.
    google_public_key_pem: str | None = None
    google_tokens: dict[str, float] = field(default_factory=dict)
    google_token_mints: int = 0

    def google_token_valid(self, token: str, now: float) -> bool:
        return self.google_tokens.get(token, 0.0) > now

    def set_fault(self, name: str | None, times: int | None = None) -> None:
        """Fault every following request (or only the next ``times``); None clears it."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        self.fault = None if name is None else check_fault(name)
        self.fault_times = times if name is not None else None

    def take_fault(self) -> str | None:
        name = self.fault
        if name is not None and self.fault_times is not None:
            self.fault_times -= 1
            if self.fault_times <= 0:
                self.fault, self.fault_times = None, None
        return name

    def take_spec_fault(self, spec: str, times: int | None) -> bool:
        """Count one more request under the URL fault ``spec``: is it one of the first ``times``?"""
        count = self.spec_counts.get(spec, 0) + 1
        self.spec_counts[spec] = count
        return times is None or count <= times

    def reset(self) -> None:
        self.requests.clear()
        self.cache_keys.clear()
        self.spec_counts.clear()
        self.fault, self.fault_times = None, None
        self.seq = 0
        self.google_public_key_pem, self.google_token_mints = None, 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def cache_usage(self, scan: PromptScan, model: str) -> tuple[int, int]:
        """(read, write) tokens: a cached prefix is written the first time, read afterwards."""
        key = scan.cache_key(model)
        if key is None:
            return 0, 0
        if key in self.cache_keys:
            return scan.cached_tokens(), 0
        self.cache_keys.add(key)
        return 0, scan.cached_tokens()
