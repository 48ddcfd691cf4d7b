"""The bridge's pure parts: predicates, subjects, the message body, configuration, secrets."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import msgspec
import pytest

import waitbus_bridge_nats as bridge
from waitbus_bridge_nats import _envelope, _secrets
from waitbus_bridge_nats._config import parse_duration
from waitbus_store import Row, read_secrets
from waitbus_wire import EventFrame


def frame(**fields: object) -> EventFrame:
    return EventFrame(event_id="01JD5Z9A0000000000000000AB", event_type="t", source="pytest", fields=dict(fields))


# -- predicates ------------------------------------------------------------------------


def test_nothing_leaves_without_a_predicate():
    assert bridge.build_filter() is None


def test_match_and_source_and_together_and_first_of_ors():
    f = bridge.build_filter(match=['fields.outcome="failed"'], source="pytest")
    assert f is not None
    assert f.wants(frame(outcome="failed"))
    assert not f.wants(frame(outcome="passed"))
    g = bridge.build_filter(source="pytest", first_of=["fields.a=1", "docker:fields.b=2"])
    assert g is not None
    assert g.clauses() == [['source="pytest"', "fields.a=1"], ['source="pytest"', 'source="docker"', "fields.b=2"]]
    assert g.wants(frame(a=1)) and g.wants(frame(b=2)) and not g.wants(frame(c=3))


def test_all_is_explicit_and_alone():
    f = bridge.build_filter(everything=True)
    assert f is not None and f.wants(frame()) and f.describe() == "every local event"
    with pytest.raises(ValueError, match="do not combine"):
        bridge.build_filter(everything=True, source="x")


def test_a_bad_spec_says_how_to_write_it():
    with pytest.raises(ValueError, match="strings need double quotes"):
        bridge.build_filter(match=["fields.status=done"])


def test_bridged_in_events_never_leave_again():
    f = bridge.build_filter(everything=True)
    assert f is not None
    assert not f.wants(frame(remote={"host": "other", "event_id": "X"}))
    assert f.wants(frame(remote="a producer's own field of that name"))
    assert bridge.is_bridged({"remote": {"host": "h", "event_id": "e"}})


# -- subjects and bodies -----------------------------------------------------------------


def test_subjects_keep_three_tokens():
    assert bridge.subject_for("waitbus", "pytest", "pytest_session") == "waitbus.pytest.pytest_session"
    assert bridge.subject_for("wb", "my.plugin", "a.b") == "wb.my~plugin.a~b"


BUS = "0123456789abcdef" * 2


def _row(fields: str = '{"x":1,"source":"s","event_type":"t"}') -> Row:
    return Row(1, "01JD5Z9A0000000000000000AB", "s", "t", "o", None, 123, "d-1", "sum", fields)


def test_a_body_round_trips_with_fields_verbatim_and_the_payload():
    body = _envelope.encode(_row(), b"\x00raw", origin="h1", bus=BUS, max_payload=1 << 20)
    env = bridge.decode(body)
    assert env.bus == BUS
    assert (env.origin, env.event_id, env.delivery_id, env.owner, env.repo) == (
        "h1",
        "01JD5Z9A0000000000000000AB",
        "d-1",
        "o",
        None,
    )
    assert bytes(env.fields) == b'{"x":1,"source":"s","event_type":"t"}'
    assert env.payload == b"\x00raw" and not env.payload_omitted
    assert _envelope.headers_for(_row(), "h1", BUS) == {
        "Nats-Msg-Id": "01JD5Z9A0000000000000000AB",
        "Waitbus-Origin": "h1",
        "Waitbus-Bus": BUS,
    }


def test_a_payload_too_big_for_one_message_is_left_out_and_said_so():
    env = bridge.decode(_envelope.encode(_row(), b"x" * 5000, origin="h", bus=BUS, max_payload=4096))
    assert env.payload is None and env.payload_omitted


def test_a_newer_body_with_extra_keys_still_decodes_and_garbage_does_not():
    body = json.loads(_envelope.encode(_row(), None, origin="h", bus=BUS, max_payload=1 << 20))
    body["v"], body["future"] = 2, "ignored"
    assert bridge.decode(json.dumps(body).encode()).event_id == "01JD5Z9A0000000000000000AB"
    with pytest.raises(msgspec.ValidationError):
        bridge.decode(b'{"v": 1}')


# -- configuration -------------------------------------------------------------------------


def test_flags_win_over_the_file_and_defaults_fill_the_rest(tmp_path):
    conf = tmp_path / "b.toml"
    conf.write_text('url = "nats://a:4222"\nsource = "pytest"\nhost = "from-file"\nmax_age = "2d"\n')
    cfg = bridge.load(["--config", str(conf), "--host", "ci.example.com"])
    assert cfg.urls == ("nats://a:4222",) and cfg.host == "ci.example.com"
    assert cfg.consumer == ""  # named once the bus is known: by its identity, not the host label
    assert cfg.for_bus(BUS).consumer == f"waitbus-{BUS}" and cfg.for_bus(BUS).bus_id == BUS
    named = bridge.load(["--url", "nats://a:4222", "--source", "x", "--consumer", "mine"])
    assert named.for_bus(BUS).consumer == "mine"
    assert cfg.outbound is not None and cfg.outbound.alternatives == (('source="pytest"',),)
    assert (cfg.start, cfg.inbound, cfg.inbound_subject, cfg.max_age_s) == ("now", True, "waitbus.>", 172800.0)
    assert cfg.bookmark == "bridge-nats:WAITBUS"


def test_drain_starts_at_the_log_start_and_has_no_inbound():
    cfg = bridge.load(["--url", "nats://x", "--all", "--drain"])
    assert (cfg.start, cfg.inbound, cfg.drain) == ("start", False, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ('url = "nats://x"\nconnect_attempts = "3"\n', "connect_attempts has the wrong type"),
        ("url = [", "cannot read config file"),
    ],
)
def test_a_bad_config_file_is_named(tmp_path, text, message):
    conf = tmp_path / "b.toml"
    conf.write_text(text)
    with pytest.raises(bridge.ConfigError, match=message):
        bridge.load(["--config", str(conf)])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no NATS server"),
        (["--url", "nats://x", "--drain"], "--drain publishes what matches"),
        (["--url", "nats://x", "--tls-cert", "c.pem"], "both --tls-cert and --tls-key"),
        (["--url", "nats://x", "--subject-prefix", "a.b"], "bad --subject-prefix"),
        (["--url", "nats://x", "--host", "has space"], "bad --host"),
        (["--config", "/nonexistent/b.toml"], "does not exist"),
    ],
)
def test_bad_flags_raise_config_errors(argv, message):
    with pytest.raises(bridge.ConfigError, match=message):
        bridge.load(argv)


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("7d") == 604800 and parse_duration(30) == 30
    with pytest.raises(bridge.ConfigError):
        parse_duration("soon")


# -- secrets -------------------------------------------------------------------------------


def _secrets_file(tmp_path: Path, data: dict[str, str], mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(data))
    path.chmod(mode)
    return path


def test_user_password_token_or_creds_and_never_two(tmp_path):
    creds = tmp_path / "u.creds"
    creds.write_text("jwt")
    assert _secrets.auth_options({"nats-user": "u", "nats-password": "p"}) == {"user": "u", "password": "p"}
    assert _secrets.auth_options({"nats-token": "t"}) == {"token": "t"}
    assert _secrets.auth_options({"nats-creds": str(creds)}) == {"user_credentials": str(creds)}
    assert _secrets.auth_options({"github-token": "x"}) == {}
    with pytest.raises(bridge.ConfigError, match="only one way"):
        _secrets.auth_options({"nats-user": "u", "nats-password": "p", "nats-token": "t"})
    with pytest.raises(bridge.ConfigError, match="both nats-user and nats-password"):
        _secrets.auth_options({"nats-user": "u"})
    with pytest.raises(bridge.ConfigError, match="not a file"):
        _secrets.auth_options({"nats-creds": str(tmp_path / "missing.creds")})
    assert "p" not in _secrets.describe({"user": "u", "password": "p"}).replace("password", "")
    assert _secrets.describe({"token": "t0k"}) == "a token"


def test_the_secrets_file_must_be_0600_and_json(tmp_path):
    assert read_secrets(tmp_path / "none.json") == {}
    assert read_secrets(_secrets_file(tmp_path, {"nats-token": "t"})) == {"nats-token": "t"}
    with pytest.raises(bridge.ConfigError, match="must be 0600"):
        read_secrets(_secrets_file(tmp_path, {"nats-token": "t"}, 0o644))
    bad = tmp_path / "secrets.json"
    bad.write_text("[1]")
    bad.chmod(0o600)
    with pytest.raises(bridge.ConfigError, match="JSON object"):
        read_secrets(bad)


# -- storing a remote event locally (a real store in this test's state dir) -------------------


def _env(**fields: object) -> bridge.Envelope:
    return bridge.Envelope(
        origin="far",
        bus=BUS,
        event_id="01JD5Z9A0000000000000000AB",
        source="pytest",
        event_type="pytest_session",
        delivery_id="orig-delivery",
        received_at=42,
        summary="s",
        fields=msgspec.Raw(json.dumps({"source": "pytest", "event_type": "pytest_session", **fields}).encode()),
        payload=b"raw",
    )


def test_a_remote_event_is_stored_once_marked_with_its_origin():
    from waitbus import fetch_payload
    from waitbus_bridge_nats._inbound import store_remote
    from waitbus_store import Store, resolve_paths

    assert store_remote(_env(outcome="passed")) is True
    assert store_remote(_env(outcome="passed")) is False  # a redelivery: deduped on the remote event id
    with Store(str(resolve_paths().db)) as store:
        (row,) = store.read_after(0)
    fields = json.loads(row.fields)
    assert fields["remote"] == {"host": "far", "bus": BUS, "event_id": "01JD5Z9A0000000000000000AB", "received_at": 42}
    assert fields["outcome"] == "passed" and row.delivery_id == "01JD5Z9A0000000000000000AB"
    assert fetch_payload(row.event_id) == b"raw"


def test_fields_at_the_size_cap_keep_the_event_and_say_the_fields_were_dropped():
    from waitbus_bridge_nats._inbound import store_remote
    from waitbus_store import Store, resolve_paths

    assert store_remote(_env(big="x" * (48 * 1024 - 80))) is True
    with Store(str(resolve_paths().db)) as store:
        (row,) = store.read_after(0)
    assert json.loads(row.fields)["remote"]["fields_dropped"] is True


# -- the CLI door ------------------------------------------------------------------------------


def test_the_cli_door_says_what_to_install_when_the_bridge_is_missing():
    import subprocess

    probe = (
        "import sys; sys.modules['waitbus_bridge_nats'] = None\n"
        "from waitbus_cli._bridge_cmd import run_nats\n"
        "raise SystemExit(run_nats(['--url', 'nats://x']))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 2
    assert "pip install 'waitbus-cli[nats]'" in done.stderr


def test_the_cli_door_passes_everything_through(tmp_path):
    import subprocess

    waitbus = str(Path(sys.executable).with_name("waitbus"))
    helped = subprocess.run([waitbus, "bridge", "nats", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: waitbus bridge nats")
    bad = subprocess.run([waitbus, "bridge", "nats", "--url", "nats://x", "--drain"], capture_output=True, text=True)
    assert bad.returncode == 2 and "waitbus bridge nats: --drain publishes" in bad.stderr
