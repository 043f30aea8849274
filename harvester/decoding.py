"""fetcher step: decoding compressed bodies with an output cap.

The HTTP transport reads raw bytes and feeds them to a :class:`Decoder`, which
undoes the response's Content-Encoding in bounded steps: no decompress call
produces more than ``STEP`` bytes, and the decoded total never exceeds
``max_size`` (:class:`BodyTooLarge` is raised first), so a compression bomb
is never inflated in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

STEP = 256 * 1024  # most output one decompress call may produce
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659: decoders may refuse larger windows
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ALIASES = {"x-gzip": "gzip"}

Sink = Callable[[bytes], None]

brotli: Any
zstandard: Any
try:
    import brotli

    _d = brotli.Decompressor()
    _d.process(b"", output_buffer_limit=STEP)  # brotli >= 1.2 only
    _HAS_BR = _d.can_accept_more_data()
except (ImportError, AttributeError, TypeError):
    brotli, _HAS_BR = None, False
try:
    import zstandard
except ImportError:
    zstandard = None

SUPPORTED: tuple[str, ...] = ("gzip", "deflate") + (("br",) if _HAS_BR else ()) + (
    ("zstd",) if zstandard is not None else ()
)
ACCEPT_ENCODING: str = ", ".join(SUPPORTED)


class BodyTooLarge(Exception):
    """The decoded (or raw) body would exceed ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body exceeds {limit} bytes")
        self.limit = limit


class UnsupportedEncoding(Exception):
    """Unknown content coding, or more than two stacked codings."""


class DecodeError(ValueError):
    """The compressed body is corrupt or truncated."""


class _Zlib:
    """gzip (with concatenated members) or deflate (zlib-wrapped or raw)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._d: Any = zlib.decompressobj(_GZIP_WBITS) if name == "gzip" else None
        self._head = b""  # deflate: first bytes, held until the wrapper is known
        self._fed = False

    def feed(self, data: bytes, sink: Sink) -> None:
        self._fed = self._fed or bool(data)
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        more = True
        while more:
            if self._d.eof:
                # gzip: zero padding or a further member; deflate: trailing junk, ignored
                data = data.lstrip(b"\0") if self.name == "gzip" else b""
                if not data:
                    return
                self._d = zlib.decompressobj(_GZIP_WBITS)
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                raise DecodeError(f"corrupt {self.name} body: {exc}") from None
            if out:
                sink(out)
            if self._d.eof:
                data = self._d.unused_data
                more = bool(data)
            else:  # a full step may leave output pending inside zlib: drain it
                data = self._d.unconsumed_tail
                more = bool(data) or len(out) == STEP

    def flush(self, sink: Sink) -> None:
        if self._d is None and self._head:  # too short to hold a zlib header
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            self._head, data = b"", self._head
            self.feed(data, sink)
        if self._d is None:  # empty body
            return
        self.feed(b"", sink)
        if self._fed and not self._d.eof:
            raise DecodeError(f"truncated {self.name} body")


class _Brotli:
    name = "br"

    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes, sink: Sink) -> None:
        self._fed = self._fed or bool(data)
        try:
            while True:  # after a full step, only empty input until it accepts more
                out = self._d.process(data, output_buffer_limit=STEP)
                data = b""
                if out:
                    sink(out)
                elif self._d.can_accept_more_data():
                    return
                else:
                    raise DecodeError("corrupt br body: decoder stalled")
        except brotli.error as exc:
            raise DecodeError(f"corrupt br body: {exc}") from None

    def flush(self, sink: Sink) -> None:
        if self._fed:
            self.feed(b"", sink)
            if not self._d.is_finished():
                raise DecodeError("truncated br body")


class _Zstd:
    """zstd through a stream writer whose write() goes to the sink in STEP pieces,
    so the sink's BodyTooLarge stops decompression mid-call. Truncation is not detected."""

    name = "zstd"

    def __init__(self) -> None:
        self._sink: Sink | None = None
        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._w = dctx.stream_writer(self, write_size=STEP)

    def write(self, out: bytes) -> int:
        assert self._sink is not None
        self._sink(bytes(out))
        return len(out)

    def feed(self, data: bytes, sink: Sink) -> None:
        self._sink = sink
        try:
            self._w.write(data)
        except zstandard.ZstdError as exc:
            raise DecodeError(f"corrupt zstd body: {exc}") from None

    def flush(self, sink: Sink) -> None:
        pass


class Decoder:
    """Streaming Content-Encoding decoder whose total output never exceeds max_size."""

    def __init__(self, content_encoding: str | None, max_size: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [_ALIASES.get(c, c) for c in codings if c and c != "identity"]
        if len(codings) > 2:
            raise UnsupportedEncoding(f"too many stacked content codings: {content_encoding!r}")
        for coding in codings:
            if coding not in SUPPORTED:
                raise UnsupportedEncoding(f"unsupported content coding: {coding!r}")
        self.max_size = max_size
        self._size = self._inner = 0
        self._out: list[bytes] = []
        # codings are listed in the order applied; undo them last-listed first
        self._stages: list[Any] = [_make(c) for c in reversed(codings)]
        self._sinks: list[Sink] = [self._middle, self._collect][2 - len(self._stages) :]

    def _collect(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.max_size:
            raise BodyTooLarge(self.max_size)
        self._out.append(data)

    def _middle(self, data: bytes) -> None:
        # intermediate stream of stacked codings: capped too (a bomb of empty gzip members)
        self._inner += len(data)
        if self._inner > 2 * self.max_size + 1024 * 1024:
            raise BodyTooLarge(self.max_size)
        self._stages[1].feed(data, self._collect)

    def _take(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    def feed(self, chunk: bytes) -> bytes:
        """Decode one raw chunk; return the decoded bytes it yields."""
        if chunk:
            if self._stages:
                self._stages[0].feed(chunk, self._sinks[0])
            else:
                self._collect(chunk)
        return self._take()

    def flush(self) -> bytes:
        """End of stream: return remaining output; DecodeError if truncated."""
        for stage, sink in zip(self._stages, self._sinks):
            stage.flush(sink)
        return self._take()


def _make(coding: str) -> Any:
    if coding in ("gzip", "deflate"):
        return _Zlib(coding)
    return _Brotli() if coding == "br" else _Zstd()
