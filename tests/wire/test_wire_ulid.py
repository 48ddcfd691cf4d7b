"""ULIDs: format, monotonicity under a stalled or backwards clock, round trips."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import decode_ulid, is_ulid, next_ulid, ulid_floor, ulid_from_parts, ulid_time_ms

ULID_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}\Z")
MAX_TIME = (1 << 48) - 1
MAX_RANDOM = (1 << 80) - 1


def test_fresh_ulid_format_and_time() -> None:
    u = next_ulid(now_ms=1_700_000_000_000)
    assert ULID_FORMAT.match(u)
    assert is_ulid(u)
    assert ulid_time_ms(u) == 1_700_000_000_000


def test_default_clock_is_now() -> None:
    import time

    before = time.time_ns() // 1_000_000
    u = next_ulid()
    after = time.time_ns() // 1_000_000
    assert before <= ulid_time_ms(u) <= after


def test_strictly_increasing_with_a_stalled_clock() -> None:
    prev = next_ulid(now_ms=1_000)
    seen = [prev]
    for _ in range(2000):
        prev = next_ulid(prev, now_ms=1_000)
        seen.append(prev)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    # Bumping stays inside the same millisecond while the random part has room.
    assert ulid_time_ms(seen[-1]) == 1_000


def test_strictly_increasing_with_a_clock_going_backwards() -> None:
    prev = next_ulid(now_ms=5_000_000)
    for ms in range(4_999_999, 4_998_000, -1):
        nxt = next_ulid(prev, now_ms=ms)
        assert nxt > prev
        assert decode_ulid(nxt) > decode_ulid(prev)
        prev = nxt
    assert ulid_time_ms(prev) >= 5_000_000


def test_clock_moving_forward_uses_the_new_time() -> None:
    a = next_ulid(now_ms=10)
    b = next_ulid(a, now_ms=11)
    assert b > a
    assert ulid_time_ms(b) == 11


def test_bump_at_full_randomness_rolls_into_the_next_millisecond() -> None:
    top = ulid_from_parts(42, MAX_RANDOM)
    nxt = next_ulid(top, now_ms=42)
    assert nxt > top
    assert ulid_time_ms(nxt) == 43


def test_parts_round_trip() -> None:
    u = ulid_from_parts(123456789, 987654321)
    assert decode_ulid(u) == (123456789 << 80) | 987654321
    assert ulid_time_ms(u) == 123456789
    assert ulid_from_parts(0, 0) == "0" * 26
    assert ulid_from_parts(MAX_TIME, MAX_RANDOM) == "7" + "Z" * 25


@pytest.mark.parametrize(("t", "r"), [(-1, 0), (MAX_TIME + 1, 0), (0, -1), (0, MAX_RANDOM + 1)])
def test_parts_out_of_range(t: int, r: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        ulid_from_parts(t, r)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_TIME), st.integers(0, MAX_RANDOM), st.integers(0, MAX_TIME), st.integers(0, MAX_RANDOM))
def test_property_string_order_is_integer_order(t1: int, r1: int, t2: int, r2: int) -> None:
    a, b = ulid_from_parts(t1, r1), ulid_from_parts(t2, r2)
    assert decode_ulid(a) == (t1 << 80) | r1
    assert (a < b) == (decode_ulid(a) < decode_ulid(b))
    assert (a == b) == ((t1, r1) == (t2, r2))


def test_floor_is_the_smallest_id_of_its_millisecond() -> None:
    ms = 1_700_000_000_123
    floor = ulid_floor(ms)
    assert floor == ulid_from_parts(ms, 0)
    assert floor <= next_ulid(now_ms=ms)
    assert floor > ulid_from_parts(ms - 1, MAX_RANDOM)
    assert ulid_time_ms(floor) == ms
    assert ulid_floor(-5) == ulid_floor(0) == "0" * 26


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 25,
        "0" * 27,
        "8" + "0" * 25,  # would overflow 128 bits
        "01arz3ndektsv4rrffq69g5fav",  # lower case is not the wire form
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",  # I, L, O, U are not Crockford digits
        "01ARZ3NDEKTSV4RRFFQ69G5FAL",
        "01ARZ3NDEKTSV4RRFFQ69G5FAO",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV\n",  # trailing newline
        " 01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ],
)
def test_not_ulids(text: str) -> None:
    assert not is_ulid(text)
    with pytest.raises(ValueError, match="not a ULID"):
        decode_ulid(text)


def test_decode_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="not a ULID"):
        decode_ulid(12345)  # type: ignore[arg-type]


def test_known_ulid_decodes_like_a_reference_decoder() -> None:
    text = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    ref = 0
    for ch in text:
        ref = ref * 32 + alphabet.index(ch)
    assert decode_ulid(text) == ref
    assert ulid_time_ms(text) == 1469922850259  # the first 10 chars are the 48-bit time
    assert ulid_from_parts(ref >> 80, ref & MAX_RANDOM) == text
