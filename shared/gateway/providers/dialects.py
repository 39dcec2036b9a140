"""Dialects by name: `gateway.providers.<name>`, imported on first use, never at app
import (a gateway without Bedrock deployments never loads the Bedrock dialect)."""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from gateway.providers.spec import Dialect


@functools.cache
def dialect(name: str) -> Dialect:
    return cast("Dialect", importlib.import_module(f"gateway.providers.{name}"))
