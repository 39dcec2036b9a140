from __future__ import annotations

import socket

import pytest


def test_guard_blocks_the_outside_world() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match="only loopback"):
        sock.connect(("93.184.216.34", 443))
