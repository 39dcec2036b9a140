"""``python -m gateway.local.simulator``."""

from __future__ import annotations

from gateway.local.simulator.app import main

main()
