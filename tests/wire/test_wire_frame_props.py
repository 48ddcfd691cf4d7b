"""Properties of the incremental frame decoder beyond clean streams (test_wire_frame.py
has the any-chunking and garbage properties): a bad length anywhere is refused however
the stream is split, nothing after it is ever returned, and a torn tail stays pending."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import HEADER_BYTES, MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frame

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
BODIES = st.lists(st.binary(min_size=1, max_size=200), max_size=8)
BAD_LENGTH = st.just(0) | st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=2**32 - 1)


def feed_in_chunks(stream: bytes, cuts: list[int]) -> tuple[list[bytes], FrameDecoder]:
    dec = FrameDecoder()
    out: list[bytes] = []
    prev = 0
    for cut in [*sorted(cuts), len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    return out, dec


@PROPS
@given(BODIES, BAD_LENGTH, st.binary(max_size=50), st.lists(st.integers(min_value=0, max_value=4000), max_size=12))
def test_a_bad_length_after_good_frames_is_refused_in_any_split(
    bodies: list[bytes], bad: int, after: bytes, cuts: list[int]
) -> None:
    good = b"".join(encode_frame(b) for b in bodies)
    stream = good + struct.pack(">I", bad) + after
    cuts = [c for c in cuts if c <= len(stream)]
    seen: list[bytes] = []
    dec = FrameDecoder()
    prev = 0
    with pytest.raises(FrameError):
        for cut in [*sorted(cuts), len(stream)]:
            seen += dec.feed(stream[prev:cut])
            prev = cut
    # What came out before the error is a prefix of the good frames, never a resync.
    assert seen == bodies[: len(seen)]
    assert dec.pending == 0  # the decoder dropped what it held


@PROPS
@given(BODIES, st.binary(min_size=1, max_size=300), st.data())
def test_a_torn_last_frame_stays_pending_in_any_split(bodies: list[bytes], last: bytes, data: st.DataObject) -> None:
    whole = encode_frame(last)
    torn = whole[: data.draw(st.integers(min_value=1, max_value=len(whole) - 1))]
    stream = b"".join(encode_frame(b) for b in bodies) + torn
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=10))
    out, dec = feed_in_chunks(stream, cuts)
    assert out == bodies
    assert dec.pending == len(torn)  # a reader at EOF knows the stream ended inside a frame
    assert dec.feed(whole[len(torn) :]) == [last] and dec.pending == 0


@PROPS
@given(st.integers(min_value=1, max_value=MAX_FRAME_BYTES), st.integers(min_value=0, max_value=HEADER_BYTES - 1))
def test_the_header_alone_decides_a_lengths_fate(n: int, given_bytes: int) -> None:
    # Any prefix of a valid header is just pending; a full valid header waits for its body.
    dec = FrameDecoder()
    header = struct.pack(">I", n)
    assert dec.feed(header[:given_bytes]) == []
    assert dec.feed(header[given_bytes:]) == []
    assert dec.pending == HEADER_BYTES
