"""One attempt's Responses state, shared by its speaker, its surface and the call.

A Response is stored before its terminal event (response.completed or .incomplete)
or its body leaves, so a client that names it in the next request always finds it:
the terminal events wait in `held` until the call has kept the response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"response.completed", "response.incomplete"})


@dataclass(slots=True)
class Turn:
    store: bool
    final: dict[str, Any] | None = None  # the Response as it ended
    snapshot: dict[str, Any] | None = None  # the Response as last reported mid-stream
    held: list[dict[str, Any]] = field(default_factory=list)
    next_sequence: int = 0

    def seen(self, event: dict[str, Any]) -> None:
        """An event relayed as the provider numbered it."""
        number = event.get("sequence_number")
        if isinstance(number, int) and not isinstance(number, bool):
            self.next_sequence = max(self.next_sequence, number + 1)
        response = event.get("response")
        if isinstance(response, dict):
            self.snapshot = response

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event the gateway writes, numbered after everything sent before it."""
        event["sequence_number"] = self.next_sequence
        self.next_sequence += 1
        return event
