"""Base64 image data URLs (`data:image/png;base64,...`), read the same way for every dialect.

The gateway never fetches an image URL itself (that would let a caller aim it at
any address); dialects whose provider fetches URLs pass them on.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from gateway.errors import InvalidRequestError

# What Anthropic and Bedrock both accept; "image/jpg" is a common alias.
MEDIA_TYPES = {
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/png": "image/png",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
}


@dataclass(frozen=True, slots=True)
class DataImage:
    media_type: str  # image/jpeg, image/png, image/gif or image/webp
    data: str  # the base64 text, checked to decode

    @property
    def format(self) -> str:
        """jpeg, png, gif or webp."""
        return self.media_type.removeprefix("image/")


def is_data_url(url: str) -> bool:
    return url.startswith("data:")


def parse_data_url(url: str, param: str) -> DataImage:
    header, comma, data = url.removeprefix("data:").partition(",")
    media_type, *options = header.split(";")
    if not comma or "base64" not in options:
        raise InvalidRequestError("Image data URLs must be base64-encoded.", param=param)
    normalized = MEDIA_TYPES.get(media_type.strip().lower())
    if normalized is None:
        raise InvalidRequestError(
            "Images must be JPEG, PNG, GIF or WebP for this model's provider.", param=param
        )
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("The image data URL is not valid base64.", param=param) from None
    return DataImage(normalized, data)
