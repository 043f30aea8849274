"""A page's href values -> its links: the one engine behind `response.links()` and `LinkExtractor`.

Wherever the values come from (streamed from the body by `harvester.hrefs`,
or read from the parsed tree, any tags and attributes), a value becomes a link
the same way: resolved against the page's base URL as the WHATWG URL Standard
says (`response.resolver`), its fragment set apart. A value makes no link when
it is empty or fragment-only once control characters and ASCII spaces are
stripped (it names the page itself), when it does not parse (as in a browser,
it leads nowhere), or when the scheme registry says links of its scheme are not
followed from this page (`harvester.schemes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from harvester import schemes
from harvester.exceptions import InvalidURL

if TYPE_CHECKING:
    from harvester.response import Response

C0_OR_SPACE = "".join(map(chr, range(0x21)))  # what the URL parser strips from both ends of a link
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # a value's own scheme, as the URL parser reads it


def resolve_links(response: Response, values: Iterable[str | None]) -> Iterator[str | None]:
    """For each of `values` in turn, the link it makes on `response` (an absolute URL, its
    fragment kept), or None where it makes none (None among the values included)."""
    resolve = response.resolver
    prefixes = schemes.current().link_prefixes(response.url)
    for value in values:
        if value is None:
            yield None
            continue
        bare = value.strip(C0_OR_SPACE)
        if not bare or bare[0] == "#":  # the page itself
            yield None
            continue
        scheme = _SCHEME.match(bare)
        if scheme is not None and scheme.group().lower() not in prefixes:  # mailto:, javascript: ...
            yield None  # (the parsed URL would keep that scheme: not followed all the same)
            continue
        try:
            url = resolve(value)
        except InvalidURL:
            yield None
            continue
        yield url if url.startswith(prefixes) else None
