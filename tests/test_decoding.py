from __future__ import annotations

import gzip
import os
import sys
import tracemalloc
import zlib
from collections.abc import Iterator

import brotli  # dependencies, with zstandard from the test extra: a missing one is a failure, not a skip
import pytest
import zstandard

from harvester.decoding import (
    ACCEPT_ENCODING,
    STEP,
    SUPPORTED,
    BodyTooLarge,
    DecodeError,
    Decoder,
    UnsupportedEncoding,
)

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

BODY = b"<html>" + b"harvester " * 20_000 + os.urandom(5_000) + b"</html>"
MB = 1024 * 1024


def decode(data: bytes, encoding: str | None, max_size: int = 10 * MB, chunk: int = 4096) -> bytes:
    decoder = Decoder(encoding, max_size)
    parts = [decoder.feed(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    return b"".join(parts) + decoder.flush()


def deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


def test_gzip_roundtrip() -> None:
    assert decode(gzip.compress(BODY), "gzip") == BODY


def test_x_gzip_alias_and_case_insensitive_header() -> None:
    assert decode(gzip.compress(BODY), " X-GZIP ") == BODY


def test_deflate_zlib_wrapped_roundtrip() -> None:
    assert decode(zlib.compress(BODY), "deflate") == BODY


def test_deflate_raw_roundtrip() -> None:
    assert decode(deflate(BODY, -zlib.MAX_WBITS), "deflate") == BODY


def test_deflate_raw_single_byte_body() -> None:
    assert decode(deflate(b"", -zlib.MAX_WBITS), "deflate") == b""
    assert decode(deflate(b"x", -zlib.MAX_WBITS), "deflate") == b"x"


def test_brotli_roundtrip() -> None:
    assert "br" in SUPPORTED
    assert decode(brotli.compress(BODY), "br") == BODY


def test_zstd_roundtrip() -> None:
    assert "zstd" in SUPPORTED
    assert decode(zstandard.ZstdCompressor().compress(BODY), "zstd") == BODY


def test_zstd_concatenated_frames_decode_fully() -> None:
    c = zstandard.ZstdCompressor()
    assert decode(c.compress(b"one ") + c.compress(b"two"), "zstd") == b"one two"


def test_stacked_gzip_then_br_is_undone_in_reverse() -> None:
    data = brotli.compress(gzip.compress(BODY))
    assert decode(data, "gzip, br") == BODY


def test_stacked_deflate_then_gzip() -> None:
    data = gzip.compress(zlib.compress(BODY))
    assert decode(data, "deflate,gzip") == BODY


def test_identity_and_missing_header_pass_through() -> None:
    assert decode(BODY, None) == BODY
    assert decode(BODY, "identity") == BODY
    assert decode(BODY, "") == BODY


def test_identity_enforces_cap_on_raw_bytes() -> None:
    decoder = Decoder(None, max_size=100)
    assert decoder.feed(b"a" * 100) == b"a" * 100
    with pytest.raises(BodyTooLarge) as info:
        decoder.feed(b"b")
    assert info.value.limit == 100


def test_body_exactly_at_cap_is_accepted() -> None:
    data = b"z" * 1000
    assert decode(gzip.compress(data), "gzip", max_size=1000) == data
    with pytest.raises(BodyTooLarge):
        decode(gzip.compress(data), "gzip", max_size=999)


def zero_bomb_chunks(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """gzip of `total` zero bytes, produced and yielded in `chunk`-sized pieces."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block, buf = bytes(MB), b""
    for _ in range(total // MB):
        buf += c.compress(block)
        while len(buf) >= chunk:
            yield buf[:chunk]
            buf = buf[chunk:]
    buf += c.flush()
    for i in range(0, len(buf), chunk):
        yield buf[i : i + chunk]


def test_gzip_bomb_raises_body_too_large_with_low_memory() -> None:
    tracemalloc.start()
    try:
        decoder = Decoder("gzip", max_size=10 * MB)
        received = 0
        with pytest.raises(BodyTooLarge) as info:
            for chunk in zero_bomb_chunks(1024 * MB):
                received += len(decoder.feed(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.limit == 10 * MB
    assert received <= 10 * MB
    assert peak < 50 * MB


def test_single_bomb_chunk_is_not_inflated_past_cap() -> None:
    bomb = gzip.compress(bytes(64 * MB))[: 64 * 1024]  # 64 KiB of input: ~64 MiB of zeros
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            Decoder("gzip", max_size=MB).feed(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB


def test_brotli_bomb_raises_body_too_large() -> None:
    bomb = brotli.compress(bytes(256 * MB), quality=1)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            Decoder("br", max_size=MB).feed(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB


def test_zstd_bomb_raises_body_too_large() -> None:
    writer = zstandard.ZstdCompressor().compressobj()
    bomb = b"".join(writer.compress(bytes(MB)) for _ in range(256)) + writer.flush()
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            Decoder("zstd", max_size=MB).feed(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB


def test_stacked_bomb_is_capped_on_final_output() -> None:
    data = brotli.compress(gzip.compress(bytes(64 * MB)))
    with pytest.raises(BodyTooLarge):
        decode(data, "gzip, br", max_size=MB, chunk=len(data))


def test_stacked_intermediate_stream_is_capped() -> None:
    empty_members = gzip.compress(b"") * 200_000  # ~4 MB of gzip that decodes to nothing
    with pytest.raises(BodyTooLarge):
        decode(brotli.compress(empty_members), "gzip, br", max_size=1000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_data_raises_decode_error(encoding: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(b"this is definitely not compressed data" * 10, encoding)
    assert isinstance(info.value, ValueError)
    assert f"corrupt {encoding} body" in str(info.value)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_truncated_stream_raises_decode_error(encoding: str) -> None:
    if encoding == "br":
        data = brotli.compress(BODY)
    else:
        data = gzip.compress(BODY) if encoding == "gzip" else zlib.compress(BODY)
    with pytest.raises(DecodeError, match="truncated"):
        decode(data[: len(data) // 2], encoding)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_empty_body_decodes_to_nothing(encoding: str) -> None:
    assert decode(b"", encoding) == b""


def test_unknown_encoding_is_unsupported() -> None:
    with pytest.raises(UnsupportedEncoding):
        Decoder("compress", 1000)


def test_four_stacked_encodings_are_rejected() -> None:
    assert decode(gzip.compress(gzip.compress(gzip.compress(BODY))), "gzip, gzip, gzip") == BODY
    with pytest.raises(UnsupportedEncoding):
        Decoder("gzip, gzip, gzip, gzip", 1000)


def test_identity_entries_do_not_count_towards_stacking() -> None:
    assert decode(gzip.compress(BODY), "identity, gzip, identity") == BODY


def test_concatenated_gzip_members_decode_fully() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(BODY)
    assert decode(data, "gzip") == b"first second " + BODY


def test_gzip_zero_padding_after_member_is_ignored() -> None:
    assert decode(gzip.compress(BODY) + bytes(100), "gzip") == BODY


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br", "zstd"])
def test_byte_by_byte_feeding_matches_single_chunk(encoding: str) -> None:
    body = BODY[:20_000] + os.urandom(2_000)
    if encoding == "gzip":
        data = gzip.compress(body) + gzip.compress(b"tail")
        body += b"tail"
    elif encoding == "deflate":
        data = zlib.compress(body)
    elif encoding == "deflate-raw":
        data, encoding = deflate(body, -zlib.MAX_WBITS), "deflate"
    elif encoding == "br":
        data = brotli.compress(body)
    else:
        data = zstandard.ZstdCompressor().compress(body)
    whole = decode(data, encoding, chunk=len(data))
    assert whole == body
    assert decode(data, encoding, chunk=1) == whole


def test_large_body_decodes_in_bounded_steps() -> None:
    body = os.urandom(MB) * 3  # large output per chunk forces several output steps
    decoder = Decoder("gzip", max_size=10 * MB)
    out = decoder.feed(gzip.compress(body, compresslevel=1)) + decoder.flush()
    assert out == body


def test_accept_encoding_lists_supported_codings() -> None:
    assert ACCEPT_ENCODING == ", ".join(SUPPORTED)
    assert SUPPORTED[:2] == ("gzip", "deflate")


def _bomb(coding: str, total: int) -> bytes:
    data = b""
    for name in [c.strip() for c in coding.split(",")]:  # applied in the order listed
        if name == "gzip":
            data = zero_gzip(total) if not data else gzip.compress(data)
        elif name == "deflate":
            data = zlib.compress(data or bytes(total), 9)
        elif name == "br":
            data = brotli.compress(data or bytes(total), quality=1)
        else:
            data = zstd.compress(data or bytes(total))
    return data


def zero_gzip(total: int) -> bytes:
    return b"".join(zero_bomb_chunks(total))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd", "gzip, br", "br, gzip", "gzip, deflate, zstd"])
def test_with_no_size_limit_each_piece_is_a_step_and_memory_stays_flat(coding: str) -> None:
    bomb = _bomb(coding, 256 * MB)
    decoder = Decoder(coding, max_size=2**63)
    total = largest = 0
    tracemalloc.start()
    try:
        for piece in decoder.decode(bomb):  # one raw chunk holding the whole bomb
            total += len(piece)
            largest = max(largest, len(piece))
        for piece in decoder.finish():
            total += len(piece)
            largest = max(largest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 * MB and decoder.damage is None
    assert largest <= STEP
    assert peak < 4 * MB + len(bomb)
