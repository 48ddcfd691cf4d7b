"""Event model limits: names, labels, fields, payload, summaries."""

from __future__ import annotations

import json

import pytest

from waitbus_wire import (
    AGENT_MESSAGE_KEYS,
    MAX_FIELDS_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_SUMMARY_CHARS,
    EventError,
    check_label,
    check_name,
    encode_fields,
    encode_payload,
    one_line,
)


def test_limits() -> None:
    assert MAX_FIELDS_BYTES == 48 * 1024
    assert MAX_PAYLOAD_BYTES == 4 * 1024 * 1024
    assert MAX_SUMMARY_CHARS == 512
    assert AGENT_MESSAGE_KEYS == ("msg_to", "msg_from", "msg_correlation_id", "msg_reply_to", "msg_thread", "msg_body")


# -- encode_fields ---------------------------------------------------------------------


def test_encode_fields_adds_source_and_event_type() -> None:
    data = encode_fields("github", "workflow_run", {"run_id": 1})
    assert json.loads(data) == {"run_id": 1, "source": "github", "event_type": "workflow_run"}


def test_encode_fields_none_means_empty() -> None:
    assert json.loads(encode_fields("fs", "fs_change", None)) == {"source": "fs", "event_type": "fs_change"}


def test_encode_fields_accepts_agreeing_values() -> None:
    data = encode_fields("agent", "agent_message", {"source": "agent", "event_type": "agent_message", "msg_to": "x"})
    assert json.loads(data)["msg_to"] == "x"


def test_encode_fields_does_not_mutate_the_callers_dict() -> None:
    fields = {"a": 1}
    encode_fields("s", "t", fields)
    assert fields == {"a": 1}


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"source": "docker"}, "fields.source='docker' contradicts source='github'"),
        ({"event_type": "other"}, "fields.event_type='other' contradicts event_type='workflow_run'"),
        ({"source": 1}, "contradicts source"),
    ],
)
def test_encode_fields_refuses_contradictions(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(EventError) as info:
        encode_fields("github", "workflow_run", fields)
    assert needle in str(info.value)


@pytest.mark.parametrize("fields", [[1, 2], "text", 5, (("a", 1),)])
def test_encode_fields_refuses_non_dict(fields: object) -> None:
    with pytest.raises(EventError, match="must be a JSON object"):
        encode_fields("s", "t", fields)


def test_encode_fields_refuses_non_string_keys() -> None:
    with pytest.raises(EventError, match="keys must be strings"):
        encode_fields("s", "t", {1: "x"})


def test_encode_fields_refuses_unencodable() -> None:
    with pytest.raises(EventError, match="not JSON-encodable"):
        encode_fields("s", "t", {"x": object()})


def test_encode_fields_size_cap_is_exact() -> None:
    base = len(encode_fields("s", "t", {"pad": ""}))
    at_limit = {"pad": "x" * (MAX_FIELDS_BYTES - base)}
    assert len(encode_fields("s", "t", at_limit)) == MAX_FIELDS_BYTES
    over = {"pad": "x" * (MAX_FIELDS_BYTES - base + 1)}
    with pytest.raises(EventError, match=r"49153 bytes; the limit is 49152 \(put bulk in payload\)"):
        encode_fields("s", "t", over)


# -- encode_payload --------------------------------------------------------------------


def test_encode_payload_forms() -> None:
    assert encode_payload(None) is None
    assert encode_payload(b"\x00\xff raw") == b"\x00\xff raw"
    assert encode_payload("héllo") == "héllo".encode()
    assert json.loads(encode_payload({"a": [1, None]}) or b"") == {"a": [1, None]}


def test_encode_payload_cap() -> None:
    assert len(encode_payload(b"x" * MAX_PAYLOAD_BYTES) or b"") == MAX_PAYLOAD_BYTES
    with pytest.raises(EventError, match="the limit is 4194304"):
        encode_payload(b"x" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(EventError, match="not JSON-encodable"):
        encode_payload({"x": object()})


# -- names and labels ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["github", "a", "workflow_run", "my.plugin-x_1", "a" * 64])
def test_check_name_accepts(name: str) -> None:
    assert check_name("source", name) == name


@pytest.mark.parametrize("name", ["", "Github", "1abc", "_x", "a" * 65, "has space", "naïve", "github\n", None, 5])
def test_check_name_refuses(name: object) -> None:
    with pytest.raises(EventError) as info:
        check_name("event_type", name)
    msg = str(info.value)
    assert msg.startswith("event_type must be 1-64 chars of a-z")
    assert repr(name) in msg


def test_check_label() -> None:
    assert check_label("owner", None) is None
    assert check_label("owner", "octo-org") == "octo-org"
    assert check_label("repo", "x" * 200) == "x" * 200
    for bad in ["", "x" * 201, "two\nlines", 3]:
        with pytest.raises(EventError, match=r"repo must be a one-line string of 1\.\.200 chars"):
            check_label("repo", bad)


# -- one_line --------------------------------------------------------------------------


def test_one_line_collapses_whitespace() -> None:
    assert one_line("  run\n\t 42   completed \r\n") == "run 42 completed"
    assert one_line("") == ""


def test_one_line_truncates_with_an_ellipsis() -> None:
    out = one_line("x" * 1000)
    assert len(out) == MAX_SUMMARY_CHARS
    assert out.endswith("\u2026")
    assert one_line("abcdef", limit=4) == "abc\u2026"
    assert one_line("abcd", limit=4) == "abcd"
