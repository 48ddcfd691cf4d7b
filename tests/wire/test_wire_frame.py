"""Framing: a 4-byte big-endian length N, then N bytes; 0 < N <= 65536."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import HEADER_BYTES, MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frame


def test_constants_match_the_contract() -> None:
    assert HEADER_BYTES == 4
    assert MAX_FRAME_BYTES == 65536


def test_layout_is_big_endian_length_then_body() -> None:
    body = b'{"kind":"x"}'
    frame = encode_frame(body)
    assert frame == b"\x00\x00\x00\x0c" + body
    assert frame[:4] == struct.pack(">I", len(body))
    # A length above 255 shows the byte order: 0x0102 = 258.
    assert encode_frame(b"a" * 258)[:4] == b"\x00\x00\x01\x02"


def test_encode_accepts_the_bounds() -> None:
    assert encode_frame(b"x") == b"\x00\x00\x00\x01x"
    big = encode_frame(b"y" * MAX_FRAME_BYTES)
    assert big[:4] == b"\x00\x01\x00\x00"
    assert len(big) == MAX_FRAME_BYTES + 4


@pytest.mark.parametrize("size", [0, MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES])
def test_encode_rejects_empty_and_oversize(size: int) -> None:
    with pytest.raises(FrameError, match=f"{size} bytes"):
        encode_frame(b"z" * size)


def test_frame_error_is_a_value_error() -> None:
    assert issubclass(FrameError, ValueError)


def test_decoder_one_byte_at_a_time() -> None:
    bodies = [b"a", b'{"k":1}', b"c" * 300]
    stream = b"".join(encode_frame(b) for b in bodies)
    dec = FrameDecoder()
    out: list[bytes] = []
    for i in range(len(stream)):
        out += dec.feed(stream[i : i + 1])
    assert out == bodies
    assert dec.pending == 0


def test_decoder_many_frames_in_one_chunk_and_partial_tail() -> None:
    stream = encode_frame(b"one") + encode_frame(b"two") + encode_frame(b"three")[:6]
    dec = FrameDecoder()
    assert dec.feed(stream) == [b"one", b"two"]
    assert dec.pending == 6  # a torn frame if the peer hung up now
    assert dec.feed(b"ree") == [b"three"]
    assert dec.pending == 0


def test_decoder_empty_feed_is_harmless() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"") == []
    assert dec.feed(b"\x00\x00") == []
    assert dec.pending == 2


def test_decoder_rejects_zero_length() -> None:
    dec = FrameDecoder()
    with pytest.raises(FrameError, match="frame length 0"):
        dec.feed(b"\x00\x00\x00\x00")
    assert dec.pending == 0  # the stream is dropped, not resynchronised


def test_decoder_rejects_zero_length_after_good_frame() -> None:
    dec = FrameDecoder()
    with pytest.raises(FrameError):
        dec.feed(encode_frame(b"ok") + b"\x00\x00\x00\x00")


def test_decoder_rejects_oversize_from_the_header_alone() -> None:
    dec = FrameDecoder()
    # No body bytes yet: the header is enough to refuse.
    with pytest.raises(FrameError, match=str(MAX_FRAME_BYTES + 1)):
        dec.feed(struct.pack(">I", MAX_FRAME_BYTES + 1))
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\xff\xff\xff\xff")


def test_decoder_accepts_exactly_max() -> None:
    body = b"m" * MAX_FRAME_BYTES
    assert FrameDecoder().feed(encode_frame(body)) == [body]


def test_decoder_custom_limit() -> None:
    dec = FrameDecoder(max_frame_bytes=8)
    assert dec.feed(encode_frame(b"12345678")) == [b"12345678"]
    with pytest.raises(FrameError, match=r"1\.\.8"):
        dec.feed(encode_frame(b"123456789"))


@st.composite
def bodies_and_cuts(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    bodies = draw(st.lists(st.binary(min_size=1, max_size=600), max_size=12))
    total = sum(len(b) + HEADER_BYTES for b in bodies)
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=total), max_size=20)))
    return bodies, cuts


@settings(max_examples=200, deadline=None)
@given(bodies_and_cuts())
def test_property_any_chunking_decodes_the_same_bodies(case: tuple[list[bytes], list[int]]) -> None:
    bodies, cuts = case
    stream = b"".join(encode_frame(b) for b in bodies)
    dec = FrameDecoder()
    out: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    assert out == bodies
    assert dec.pending == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10))
def test_property_garbage_only_ever_raises_frame_error(chunks: list[bytes]) -> None:
    dec = FrameDecoder(max_frame_bytes=64)
    fed = 0
    got = 0
    try:
        for chunk in chunks:
            fed += len(chunk)
            out = dec.feed(chunk)
            got += sum(len(b) + HEADER_BYTES for b in out)
            assert all(0 < len(b) <= 64 for b in out)
    except FrameError:
        return
    # Without an error, every byte is either in a returned frame or still pending.
    assert got + dec.pending == fed
