"""Numbers read from header values and query strings: ASCII digits only.

`str.isdigit()` is true of superscripts ("²") and other scripts' digits, which `int()`
then refuses or reads; every number a header or a query carries is parsed here instead.
A caller's bad value is its 400 (the caller's own check on None); a provider's is ignored.
"""

from __future__ import annotations

import re

_WHOLE = re.compile(r"[0-9]{1,18}")  # 18 digits: any count or duration, never a bignum
_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,9})?")


def whole(text: str | None) -> int | None:
    """The non-negative integer `text` writes in ASCII digits (blanks around it allowed),
    else None."""
    if text is None:
        return None
    text = text.strip(" \t")
    return int(text) if _WHOLE.fullmatch(text) else None


def decimal(text: str | None) -> float | None:
    """The non-negative number `text` writes in ASCII digits with an optional fraction
    ("1.5"; no sign, exponent, "inf" or "nan"), else None."""
    if text is None:
        return None
    text = text.strip(" \t")
    return float(text) if _DECIMAL.fullmatch(text) else None
