"""Faults chosen by URL: the ``{spec}`` in ``/_fault/{spec}/<vendor route>``.

A gateway deployment chooses only its ``api_base``, so a base URL such as
``http://127.0.0.1:4010/_fault/429,retry_after=2,times=1/v1`` makes that deployment fail
while another one on the same simulator stays healthy. Grammar::

    spec   = NAME *( "," key "=" digits )
    key    = "retry_after" | "retry_after_ms" | "times"

NAME is a ``scenario.FAULTS`` name; each key may appear once. ``retry_after`` (seconds,
header ``retry-after``) and ``retry_after_ms`` (OpenAI's ``retry-after-ms``, so OpenAI routes
only) apply to the throttling faults ``RETRY_FAULTS``; given either, the response carries
exactly the headers asked for, instead of the default ``retry-after: 7`` of a 429.
``times=N`` faults only the first N requests carrying this exact (URL-decoded) spec string,
counted in ``SimState`` until ``reset()``; later ones are handled as if the prefix were
absent (so header, marker and server-level faults apply again). A malformed spec is
answered 400, text/plain, before anything else is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.local.simulator.scenario import RETRY_FAULTS
from gateway.local.simulator.state import check_fault

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.local.simulator.engine import Vendor

PREFIX = "/_fault/{spec}"
_MINIMUM: dict[str, int] = {"retry_after": 0, "retry_after_ms": 0, "times": 1}
_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class FaultSpec:
    """A parsed ``{spec}``; ``text`` is the string as it came, the key ``times`` counts under."""

    text: str
    name: str
    retry_after: int | None = None
    retry_after_ms: int | None = None
    times: int | None = None


def parse_fault_spec(text: str) -> FaultSpec:
    """``NAME[,key=value...]`` -> FaultSpec; anything else raises ValueError with the reason."""
    name, *pairs = text.split(",")
    try:
        check_fault(name)
        spec = FaultSpec(text, name, **_options(pairs))
        if (spec.retry_after, spec.retry_after_ms) != (None, None) and name not in RETRY_FAULTS:
            allowed = ", ".join(sorted(RETRY_FAULTS))
            raise ValueError(f"retry_after and retry_after_ms apply to {allowed} only")
    except ValueError as exc:
        raise ValueError(f"bad fault spec {text!r} in /_fault/{{spec}}: {exc}") from None
    return spec


def url_fault_spec(request: Request, vendor: Vendor) -> FaultSpec | None:
    """The route's ``{spec}``, parsed, or None off the prefix; a malformed one raises."""
    text = request.path_params.get("spec")
    if text is None:
        return None
    spec = parse_fault_spec(text)
    if spec.retry_after_ms is not None and vendor.retry_after_ms_header is None:
        raise ValueError(
            f"bad fault spec {text!r} in /_fault/{{spec}}: {vendor.name} sends no "
            "retry-after-ms header (only the OpenAI routes do); use retry_after"
        )
    return spec


def _options(pairs: list[str]) -> dict[str, int]:
    options: dict[str, int] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if key not in _MINIMUM:
            known = ", ".join(sorted(_MINIMUM))
            raise ValueError(f"unknown option {key!r}; known: {known}")
        if not equals or not _DIGITS.fullmatch(value):
            raise ValueError(f"{key} needs a whole number (up to 9 digits), as in {key}=2")
        if key in options:
            raise ValueError(f"{key} given twice")
        if int(value) < _MINIMUM[key]:
            raise ValueError(f"{key} must be at least {_MINIMUM[key]}")
        options[key] = int(value)
    return options
