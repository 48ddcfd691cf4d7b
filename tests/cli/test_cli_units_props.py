"""Properties of the CLI's duration and size parsers (`30s`, `10m`, `500MB`), and what
every flag built on them does with bad input: exit 2 with a message naming the format,
never a traceback (a huge number used to overflow into `inf` and then OverflowError)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests._support import run_cli
from waitbus_cli._units import MAX_SIZE_BYTES, parse_size
from waitbus_wire import MAX_DURATION_S, parse_duration

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}
SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
PAD = st.sampled_from(["", " ", "\t", "  "])


@PROPS
@given(st.integers(min_value=0, max_value=5000), st.sampled_from(sorted(DURATION_UNITS)), PAD, PAD, PAD)
def test_durations_round_trip(n: int, unit: str, before: str, between: str, after: str) -> None:
    assert parse_duration(f"{before}{n}{between}{unit}{after}") == pytest.approx(n * DURATION_UNITS[unit])


@PROPS
@given(st.decimals(min_value=0, max_value=10**4, places=3, allow_nan=False, allow_infinity=False))
def test_decimal_durations_round_trip(n: object) -> None:
    assert parse_duration(f"{n}m") == pytest.approx(float(str(n)) * 60)


@PROPS
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SIZE_UNITS)), PAD, PAD)
def test_sizes_round_trip(n: int, unit: str, before: str, between: str) -> None:
    assert parse_size(f"{before}{n}{between}{unit}") == n * SIZE_UNITS[unit]
    assert parse_size(f"{n}{unit.lower()}") == n * SIZE_UNITS[unit]  # units are case-insensitive


PARSERS = [(parse_duration, "bad duration", MAX_DURATION_S), (parse_size, "bad size", MAX_SIZE_BYTES)]


@pytest.mark.parametrize(("parse", "says", "most"), PARSERS, ids=["duration", "size"])
@PROPS
@given(st.text(max_size=30) | st.from_regex(r"-?[0-9]{0,500}(\.[0-9]*)?[a-zA-Z]{0,3}", fullmatch=True))
@example("9" * 400)  # overflows a float to inf
@example("9" * 30 + "w")
@example("9" * 400 + "MB")
def test_any_text_is_a_bounded_value_or_a_value_error_naming_the_format(
    parse: Callable[[str], float], says: str, most: int, text: str
) -> None:
    try:
        value = parse(text)
    except ValueError as exc:
        assert str(exc).startswith(f"{says} {text!r}")
        return
    assert 0 <= value <= most


HUGE = "9" * 400
BAD_DURATIONS = ["10 minutes", "-5s", "1e3s", "5y", "inf", "nan", HUGE, HUGE + "w", "3650000d"]
FLAGS = [
    ("wait", "--timeout"),
    ("wait", "--since"),
    ("on", "--grace"),
    ("db", "prune", "--older-than"),
    ("db", "prune", "--max-size"),
    ("read-events", "list", "--since"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flag", FLAGS, ids=lambda f: " ".join(f))
def test_every_duration_and_size_flag_refuses_bad_values_with_exit_2_and_a_clear_message(flag: tuple[str, ...]) -> None:
    """No hub is needed: every value is refused before anything connects."""
    *verb, option = flag
    tail = ["--", "true"] if flag[0] == "on" else []
    for value in BAD_DURATIONS:
        # --opt=value: a value starting with "-" is then not taken for an option
        out = run_cli(*verb, f"{option}={value}", *tail, timeout=30)
        where = f"{' '.join(flag)} {value[:20]!r}"
        assert out.returncode == 2, f"{where}: exit {out.returncode}: {out.stderr[-300:]}"
        assert "Traceback" not in out.stderr, where
        assert "bad duration" in out.stderr or "bad size" in out.stderr or "--since" in out.stderr, (
            f"{where}: {out.stderr[-300:]}"
        )
