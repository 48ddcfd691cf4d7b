"""The one duration grammar (`waitbus_wire.parse_duration`): every form that any waitbus
flag, config key or tool argument accepted before it became one parser."""

from __future__ import annotations

import pytest

from waitbus_wire import MAX_DURATION_S, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),  # a bare number is seconds
        ("0.5", 0.5),
        (".5", 0.5),
        ("0", 0),
        ("200ms", 0.2),  # the bridge refused ms
        ("30s", 30),
        ("10m", 600),
        ("1.5h", 5400),
        ("2d", 172800),
        ("2w", 1209600),  # only the CLI took w
        ("1h30m", 5400),  # only the Alertmanager watchdog took compound durations
        ("1w2d3h4m5s6ms", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5.006),
        (" 1h 30m ", 5400),
        ("10 m", 600),
        ("1H30M", 5400),
    ],
)
def test_every_form(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", " ", "soon", "-1s", "1x", "h", "1h30", "1.2.3s", "1e3s", "inf", "nan", "1 2"])
def test_bad_text_is_a_value_error_that_names_the_format(text: str) -> None:
    with pytest.raises(ValueError, match=rf"^bad duration {text!r}: use a number with ms, s, m, h, d or w"):
        parse_duration(text)


def test_more_than_100_years_is_refused_even_when_it_overflows_a_float() -> None:
    assert parse_duration(f"{MAX_DURATION_S}s") == MAX_DURATION_S
    for text in (f"{MAX_DURATION_S + 1}", "9" * 400, "9" * 30 + "w", "5300w"):
        with pytest.raises(ValueError, match="the most is 100 years"):
            parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (42.9, "42s"),
        (600, "10m"),
        (630, "10m30s"),
        (3 * 3600, "3h"),
        (3 * 3600 + 12 * 60 + 59, "3h12m"),
        (2 * 86400 + 5 * 3600 + 7, "2d5h"),
    ],
)
def test_format_duration_writes_its_two_largest_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 61, 3599, 3600, 3660, 86399, 86400, 90000])
def test_format_duration_reads_back_through_parse_duration(seconds: int) -> None:
    # what is lost is below the smaller unit written: under a minute within a day, an hour past it
    lost = seconds - parse_duration(format_duration(seconds))
    assert 0 <= lost < (60 if seconds < 86400 else 3600)
    if seconds < 3600:
        assert lost == 0
