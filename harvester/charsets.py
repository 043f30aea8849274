"""Response -> text: which charset a body is in, read as browsers read it.

One place answers it for pages and feeds alike:

- `bom(head)`: the byte order mark a body opens with, if any (UTF-8, UTF-16,
  and UTF-32 for XML, checked before UTF-16 LE whose mark it starts with);
- `codec_for(label)`: a charset label from a Content-Type header, a `<meta>`
  or an XML declaration, mapped as the WHATWG Encoding Standard maps labels
  (`gb2312` and `gbk` are GBK, `iso-8859-1`, `latin1` and `ascii` are
  windows-1252, `x-sjis` is Shift_JIS, ...), to the Python codec that decodes
  what the standard's decoder decodes;
- `header_charset`, `meta_charset`, `xml_charset`: the label each place gives;
- `html_encoding(content_type, body)`: BOM, header, `<meta>`, else detection;
- `feed_encoding(head, content_type, fallback)`: BOM, header, the spider's
  `encoding`, the XML declaration, else UTF-8, for text decoded as it streams;
- `xml_as_utf8(body, content_type)`: an XML document re-encoded as UTF-8 (its
  declaration saying so), for parsers that would read a label their own way.

The label table is `webencodings` (the Encoding Standard's labels, as html5lib
and WeasyPrint use them). Python's codecs are narrower than a few of the
standard's decoders, so those names are widened here (`_WIDER`).
"""

from __future__ import annotations

import codecs
import re

import webencodings

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The standard's decoder for these names reads more than the Python codec of the same name:
# its GBK decoder is the gb18030 decoder; Python names that detection returns get the same widening.
_WIDER = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
    "ascii": "cp1252",
    "iso8859_9": "cp1254",
    "iso8859_11": "cp874",
    "tis_620": "cp874",
}
_UNDECODABLE = frozenset({"replacement", "x-user-defined"})  # no Python codec: the label is ignored
_META = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])[A-Za-z0-9_.:+-]+\2""")
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9_.:+-]+)["']""", re.IGNORECASE)
_SAMPLE = 64 * 1024  # bytes looked at to tell a charset nothing declares
_META_WINDOW = 4096  # the <meta> must come this early, as the HTML prescan's 1024 bytes, with room
_LATIN = frozenset(
    {
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "latin_1",
        "iso8859_2",
        "iso8859_4",
        "iso8859_9",
        "iso8859_13",
        "iso8859_15",
        "iso8859_16",
        "mac_latin2",
        "mac_roman",
        "mac_iceland",
        "mac_turkish",
        "ascii",
    }
)


def bom(head: bytes) -> tuple[str, int] | None:
    """(codec, length of the mark) when `head` opens with a byte order mark."""
    for mark, name in _BOMS:
        if head.startswith(mark):
            return name, len(mark)
    return None


def codec_for(label: str | bytes | None) -> str | None:
    """The Python codec for a charset label, as the Encoding Standard reads it; None if unknown."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    encoding = webencodings.lookup(label.strip().strip("'\"")) if label else None
    if encoding is None:
        return _python_codec(label or "")  # not a web label (a Python name from detection, say)
    if encoding.name in _UNDECODABLE:
        return None
    name: str = encoding.codec_info.name
    return _WIDER.get(codecs.lookup(name).name.replace("-", "_"), name)


def header_charset(content_type: str) -> str | None:
    """The codec the Content-Type header's `charset` parameter names, if known."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return codec_for(value)
    return None


def meta_charset(head: bytes) -> str | None:
    """The codec an early `<meta charset>` (or http-equiv Content-Type) names, as the HTML prescan reads it."""
    match = _META.search(head[:_META_WINDOW])
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore")
    found = webencodings.lookup(label)
    if found is not None and found.name == "x-user-defined":
        return "cp1252"
    name = codec_for(label)
    if name is not None and name.startswith("utf-16"):
        return "utf-8"  # the bytes were readable as ASCII: not UTF-16 whatever the page says
    return name


def xml_charset(head: bytes) -> str | None:
    """The codec the XML declaration (`<?xml version="1.0" encoding="..."?>`) names, if known."""
    match = _XML_DECLARATION.match(head[:_META_WINDOW])
    return codec_for(match.group(1)) if match else None


def html_encoding(content_type: str, body: bytes) -> str:
    """A page's codec: BOM, then the Content-Type header, then `<meta charset>`, else detected."""
    marked = bom(body)
    if marked is not None:
        return marked[0]
    return header_charset(content_type) or meta_charset(body) or detect(body)


def feed_encoding(head: bytes, content_type: str = "", fallback: str | None = None) -> tuple[str, int]:
    """(codec, length of its BOM) for a feed opening with `head`: BOM, header, `fallback`, XML declaration, UTF-8."""
    marked = bom(head)
    if marked is not None:
        return marked
    found = header_charset(content_type) or codec_for(fallback) or xml_charset(head)
    return found or "utf-8", 0


def xml_as_utf8(body: bytes, content_type: str = "") -> bytes:
    """`body` in UTF-8, decoded by BOM, header, then declaration (the header wins, RFC 7303)."""
    encoding, skip = feed_encoding(body, content_type)
    declared = xml_charset(body)
    if codecs.lookup(encoding).name == "utf-8" and declared in (None, "utf-8"):
        return body[skip:]
    text = body[skip:].decode(encoding, errors="replace")
    return _DECLARED_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")


def detect(body: bytes) -> str:
    """UTF-8 when the body is valid UTF-8; else a detected charset, windows-1252 for Latin text.

    Detection (charset_normalizer, on the first 64 KiB) is trusted for CJK,
    Cyrillic, Greek and other scripts; for text it takes for a Latin
    single-byte charset, windows-1252 is kept, as browsers do by default.
    """
    sample = body[:_SAMPLE]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and len(body) > len(sample):  # a character cut by the sample
            return "utf-8"
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample).best()
    if best is None or best.encoding in _LATIN or "cp1252" in best.could_be_from_charset:
        return "cp1252"
    return codec_for(best.encoding) or "cp1252"


def _python_codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        return None
    return _WIDER.get(codec.replace("-", "_"), codec) if codec else None
