"""The one duration grammar (`waitbus_wire.parse_duration`): every form that any waitbus
flag, config key or tool argument accepted before it became one parser."""

from __future__ import annotations

import pytest

from waitbus_wire import MAX_DURATION_S, parse_duration


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
