"""`Set-Cookie` parsing: RFC 6265 §5.2, the way browsers read the header.

A header is read as bytes: each octet is kept as the character of the same
code (latin-1), so a UTF-8 name or value is stored and sent back byte for
byte, as browsers do. Parsing never raises: a header without a name-value
pair is ignored, a bad attribute drops only itself, and of a repeated
attribute the last one wins. Two limits of RFC 6265bis (§5.6) bound what one
header can hold: a name and value over 4096 bytes together are ignored, and
so is an attribute whose value is over 1024 bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from harvester.cookies.dates import parse_cookie_date

MAX_NAME_VALUE = 4096  # bytes of name and value together
MAX_ATTRIBUTE_VALUE = 1024
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # refused whole (RFC 6265bis §5.6): never sent back
_MAX_AGE = re.compile(r"-?[0-9]+")
_MAX_AGE_DIGITS = 12  # more is longer than any cookie lives: the number is not converted
_WSP = " \t"


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One `Set-Cookie` header as parsed; the attributes not given are None."""

    name: str
    value: str
    expires: datetime | None = None  # the last valid Expires
    max_age: int | None = None  # the last valid Max-Age, in seconds; 0 or less deletes
    domain: str | None = None  # the last non-empty Domain, its leading dot removed, lower case
    path: str | None = None  # the last Path; None also when that one was not an absolute path
    secure: bool = False
    http_only: bool = False


def parse_set_cookie(header: str) -> SetCookie | None:
    """The cookie a `Set-Cookie` header value sets, or None when it sets none."""
    if _CONTROLS.search(header):
        return None
    pair, _, attributes = header.partition(";")
    name, equals, value = pair.partition("=")
    name, value = name.strip(_WSP), value.strip(_WSP)
    if not equals or not name or len(name) + len(value) > MAX_NAME_VALUE:
        return None
    fields: dict[str, object] = {}
    for av in attributes.split(";") if attributes else ():
        key, _, raw = av.partition("=")
        key, raw = key.strip(_WSP).lower(), raw.strip(_WSP)
        if len(raw) > MAX_ATTRIBUTE_VALUE:
            continue
        if key == "expires":
            if (moment := parse_cookie_date(raw)) is not None:
                fields["expires"] = moment
        elif key == "max-age":
            if _MAX_AGE.fullmatch(raw):
                digits = raw.lstrip("-")
                seconds = int(digits) if len(digits) <= _MAX_AGE_DIGITS else 10**_MAX_AGE_DIGITS
                fields["max_age"] = -seconds if raw.startswith("-") else seconds
        elif key == "domain":
            if raw:
                fields["domain"] = ascii_lower(raw.removeprefix("."))
        elif key == "path":
            fields["path"] = raw if raw.startswith("/") else None
        elif key == "secure":
            fields["secure"] = True
        elif key == "httponly":
            fields["http_only"] = True
    return SetCookie(name, value, **fields)  # type: ignore[arg-type]


_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """`text` with only A-Z lowered: the other octets of a header stay as they came."""
    return text.translate(_UPPER)
