"""Bounded decoding of response bodies (trio_crawl/crawling/decoding.py), without a network."""

from __future__ import annotations

import gzip
import itertools
import tracemalloc
import zlib
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.crawling.decoding import MAX_CODINGS, STEP, BoundedBody, content_codings
from trio_crawl.engine.results import ErrorKind, StageError

MiB = 1024 * 1024


def deflate_zlib(data: bytes) -> bytes:
    return zlib.compress(data)


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {"gzip": gzip.compress, "deflate": deflate_zlib, "raw-deflate": deflate_raw}


def zeros_bomb(inflated: int) -> bytes:
    """One gzip member of `inflated` zero bytes (about 1,000 times smaller)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(inflated // MiB)]
    return b"".join([*parts, compressor.flush()])


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def decode(chunks: Iterable[bytes], codings: tuple[str, ...], limit: int = 10 * MiB) -> bytes:
    body = BoundedBody(limit, codings)
    for chunk in chunks:
        body.feed(chunk)
    return body.finish()


def error_of(
    chunks: Iterable[bytes], codings: tuple[str, ...], limit: int = 10 * MiB
) -> StageError:
    with pytest.raises(StageError) as info:
        decode(chunks, codings, limit)
    return info.value


# --- round trips -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=20_000) | st.text(max_size=5_000).map(str.encode),
    encoder=st.sampled_from(sorted(ENCODERS)),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_any_chunking_of_a_compressed_body_decodes_to_the_original(
    data: bytes, encoder: str, cuts: list[int]
) -> None:
    coding = "gzip" if encoder == "gzip" else "deflate"
    encoded = ENCODERS[encoder](data)
    assert decode(split(encoded, cuts), (coding,)) == data


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=5_000), cuts=st.lists(st.integers(min_value=0), max_size=5))
def test_stacked_codings_are_undone_last_applied_first(data: bytes, cuts: list[int]) -> None:
    encoded = deflate_zlib(gzip.compress(data))  # "Content-Encoding: gzip, deflate"
    assert decode(split(encoded, cuts), content_codings("gzip, deflate")) == data


def test_identity_bodies_pass_through_untouched() -> None:
    assert decode([b"<p>", b"hi</p>"], ()) == b"<p>hi</p>"
    assert decode([], ()) == b""


def test_gzip_members_are_concatenated() -> None:
    encoded = gzip.compress(b"first ") + gzip.compress(b"second")
    assert decode(split(encoded, [3, 25, 30]), ("gzip",)) == b"first second"


def test_bytes_after_the_last_gzip_member_are_ignored() -> None:
    assert decode([gzip.compress(b"page") + b"\x00\x00junk"], ("gzip",)) == b"page"


def test_inflating_past_one_step_with_no_input_left_loses_nothing() -> None:
    data = bytes(range(256)) * (3 * STEP // 256)  # compresses well: little input, many steps
    assert decode([gzip.compress(data)], ("gzip",)) == data


def test_an_empty_compressed_body_is_empty() -> None:
    assert decode([], ("gzip",)) == b""
    assert decode([], ("deflate",)) == b""


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_decoded_body_exactly_at_the_limit_is_accepted_and_one_byte_more_refused(
    coding: str,
) -> None:
    encoder = ENCODERS[coding]
    assert len(decode([encoder(b"x" * 5000)], (coding,), limit=5000)) == 5000
    error = error_of([encoder(b"x" * 5001)], (coding,), limit=5000)
    assert error.kind is ErrorKind.client_error
    assert error.message == "response too large: > 5000 bytes"


def test_a_gzip_bomb_is_refused_while_holding_about_the_limit_in_memory() -> None:
    bomb = zeros_bomb(64 * MiB)  # 64 KiB on the wire
    tracemalloc.start()
    try:
        error = error_of(split(bomb, range(0, len(bomb), 16 * 1024)), ("gzip",), limit=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.message == f"response too large: > {MiB} bytes"
    assert peak < MiB + 4 * STEP + len(bomb)


def test_every_layer_of_stacked_codings_is_bounded() -> None:
    # The outer gzip inflates to 2 MB of empty gzip members, which decode to nothing: only the
    # outer layer's own bound stops it.
    outer = gzip.compress(gzip.compress(b"") * 100_000)
    assert len(outer) < 50_000
    error = error_of([outer], ("gzip", "gzip"), limit=MiB)
    assert error.message == f"response too large: > {MiB} bytes"
    # And a bomb in the inner layer is stopped by the body's bound.
    error = error_of([gzip.compress(zeros_bomb(64 * MiB))], ("gzip", "gzip"), limit=MiB)
    assert error.message == f"response too large: > {MiB} bytes"


def test_raw_bytes_count_against_the_limit_even_when_they_decode_to_nothing() -> None:
    empty_members = gzip.compress(b"") * 1000  # ~20 KB that decodes to nothing
    error = error_of([empty_members], ("gzip",), limit=10_000)
    assert error.message == "response too large: > 10000 bytes"


def test_a_refused_body_drops_what_it_collected() -> None:
    body = BoundedBody(10, ())
    body.feed(b"12345")
    with pytest.raises(StageError):
        body.feed(b"678901")
    assert body._chunks == []


# --- content codings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "codings"),
    [
        (None, ()),
        ("", ()),
        ("identity", ()),
        ("GZip", ("gzip",)),
        ("x-gzip", ("gzip",)),
        ("deflate", ("deflate",)),
        ("gzip, identity, deflate", ("gzip", "deflate")),
    ],
)
def test_content_encoding_headers_name_gzip_and_deflate_layers(
    header: str | None, codings: tuple[str, ...]
) -> None:
    assert content_codings(header) == codings


@pytest.mark.parametrize("header", ["br", "zstd", "compress", "gzip, br", "sdch"])
def test_other_content_encodings_are_refused_by_name(header: str) -> None:
    with pytest.raises(StageError) as info:
        content_codings(header)
    assert info.value.kind is ErrorKind.client_error
    name = header.rsplit(", ", 1)[-1]
    assert info.value.message == (
        f"unsupported content-encoding {name!r} (only gzip and deflate are decoded)"
    )


def test_more_than_a_few_layers_are_refused_before_any_decoder_is_built() -> None:
    with pytest.raises(StageError, match="too many content-encodings"):
        content_codings(", ".join(["gzip"] * (MAX_CODINGS + 1)))
    with pytest.raises(StageError, match="too many content-encodings"):
        content_codings(", ".join(["gzip"] * 50_000))


# --- broken streams ---------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_cut_short_compressed_body_is_a_network_error(coding: str) -> None:
    encoded = ENCODERS[coding](bytes(range(256)) * 100)
    error = error_of([encoded[: len(encoded) // 2]], (coding,))
    assert error.kind is ErrorKind.network_error
    assert error.message == (
        f"could not decode the {coding} body: the body ends before its compressed stream does"
    )


def test_a_corrupt_gzip_body_is_a_network_error() -> None:
    error = error_of([b"\x1f\x8b\x08\x00" + b"\xff" * 40], ("gzip",))
    assert error.kind is ErrorKind.network_error
    assert error.message.startswith("could not decode the gzip body: ")


def test_one_byte_of_deflate_is_incomplete() -> None:
    assert error_of([b"x"], ("deflate",)).kind is ErrorKind.network_error
