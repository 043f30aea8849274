"""Response -> feed parser: a streamed body as bytes or text, as it arrives.

Feeds are read through `response.aiter_bytes()`, so a feed is never held
whole. `watch` bounds a streamed body in time (an idle timeout per read and
an optional total deadline) and stops reading it when the run is stopping. A body that starts with gzip's magic bytes (a `.xml.gz` served as a
file, over ftp, or without Content-Encoding) is inflated on the way, in
bounded steps, with the same output cap as HTTP bodies. Text feeds are
decoded incrementally; the charset comes from a BOM, then the Content-Type
header, then the spider's `encoding`, then UTF-8.
"""

from __future__ import annotations

import asyncio
import codecs
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from harvester import charsets
from harvester.config import FetchSettings, Settings
from harvester.decoding import BodyTooLarge, DecodeError, Decoder
from harvester.exceptions import ErrorKind, FetchError, FetchTimeout, ParseError, TooLarge
from harvester.request import Request
from harvester.response import Response

GZIP_MAGIC = b"\x1f\x8b"
SLICE = 256 * 1024  # most bytes handed to a parser at once: libxml2 refuses a 10 MB push


class FeedInterrupted(FetchError):
    """The run was asked to stop while a feed streamed: read no further, keep what came before."""

    kind = ErrorKind.INTERRUPTED


def watch(response: Response, settings: Settings | None, stopping: Callable[[], bool]) -> None:
    """Bound a streamed body in time: `fetch.timeout` for each read, `fetch.feed_timeout` for
    the whole body (0: no bound), and no further read once `stopping()` is true."""
    if response.stream is None:
        return
    fetch = settings.fetch if settings is not None else FetchSettings()
    response.stream = _watched(response.stream, fetch.timeout, fetch.feed_timeout, stopping, response.request)


async def _watched(
    stream: AsyncIterator[bytes],
    idle: float,
    total: float,
    stopping: Callable[[], bool],
    request: Request | None,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    ends = loop.time() + total if total else None
    received = 0
    try:
        while True:
            if stopping():
                raise FeedInterrupted(
                    f"stopped by the stop request after {received} bytes; the rest of the feed was not read", request
                )
            wait = idle if ends is None else min(idle, ends - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0)):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if wait < idle:
                    raise FetchTimeout(
                        f"feed not read whole within feed_timeout {total:g} s ({received} bytes)", request
                    ) from None
                raise FetchTimeout(f"no feed data for {idle:g} s (after {received} bytes)", request) from None
            received += len(chunk)
            yield chunk
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


async def feed_bytes(response: Response, limit: int = 0, what: str = "feed") -> AsyncGenerator[bytes]:
    """The body as it arrives, gunzipped if gzip's magic bytes open it; at most `limit` bytes (0: any).

    Inflated in pieces of at most 256 KiB, each made only when the parser took the last
    one (`Decoder.decode`), so a gzip bomb never inflates in memory; what precedes a
    corrupt or truncated part is handed on before the `ParseError`.
    """
    cap = limit or sys.maxsize
    decoder: Decoder | None = None
    head = b""
    try:
        async for chunk in response.aiter_bytes():
            if decoder is None:
                head += chunk
                if len(head) < len(GZIP_MAGIC):
                    continue
                decoder = Decoder("gzip" if head.startswith(GZIP_MAGIC) else None, cap)
                chunk, head = head, b""
            for piece in decoder.decode(chunk):
                for data in _slices(piece):
                    yield data
            if decoder.damage:
                break
        if decoder is None:  # a body shorter than the magic
            decoder = Decoder(None, cap)
            for data in _slices(head):
                yield data
        for piece in decoder.finish():
            for data in _slices(piece):
                yield data
    except BodyTooLarge:
        raise TooLarge(f"{what} is over {limit} bytes uncompressed", response.request) from None
    except DecodeError as exc:
        raise ParseError(f"{what}: {exc}", response.request) from None
    if decoder.damage:
        raise ParseError(f"{what}: {decoder.damage}", response.request)


def _slices(data: bytes) -> list[bytes]:
    """`data` in pieces of at most `SLICE` bytes (one inflated chunk may be megabytes)."""
    if len(data) <= SLICE:
        return [data] if data else []
    return [data[start : start + SLICE] for start in range(0, len(data), SLICE)]


def charset_of(response: Response) -> str | None:
    """The codec the Content-Type header's charset names (WHATWG labels), if known."""
    return charsets.header_charset(response.headers.get("content-type", ""))


def choose_encoding(head: bytes, declared: str | None, fallback: str | None) -> tuple[str, int]:
    """(encoding, length of its BOM) for a body opening with `head`: BOM, header, spider, UTF-8."""
    return charsets.bom(head) or (declared or charsets.codec_for(fallback) or "utf-8", 0)


async def feed_chunks(
    response: Response, fallback: str | None = None, limit: int = 0, what: str = "feed"
) -> AsyncIterator[tuple[str, bytes]]:
    """The body as it arrives, each piece with the feed's encoding (at least one piece).

    The encoding is chosen once, from the first four bytes (a BOM, which is skipped), the
    declared charset or `fallback` (`choose_encoding`).
    """
    declared = charset_of(response)
    encoding = None
    head = b""
    async for chunk in feed_bytes(response, limit, what):
        if encoding is None:
            head += chunk
            if len(head) < 4:
                continue
            encoding, skip = choose_encoding(head, declared, fallback)
            chunk, head = head[skip:], b""
        yield encoding, chunk
    if encoding is None:
        encoding, skip = choose_encoding(head, declared, fallback)
        yield encoding, head[skip:]


async def feed_text(
    response: Response, fallback: str | None = None, limit: int = 0, what: str = "feed"
) -> AsyncIterator[str]:
    """The body decoded to text as it arrives (undecodable bytes become U+FFFD)."""
    decoder = None
    async for encoding, chunk in feed_chunks(response, fallback, limit, what):
        if decoder is None:
            decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        if text := decoder.decode(chunk):
            yield text
    if decoder is not None and (text := decoder.decode(b"", final=True)):
        yield text
