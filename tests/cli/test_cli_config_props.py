"""Properties of the two files the CLI reads: the TOML configuration and the 0600 secrets
file. Whatever they hold, loading gives a valid result or the documented error (a
ValueError/OSError that `describe_error` turns into lines naming the key, SecretsError),
never another exception, so every command answers with a message instead of a traceback;
and no error about the secrets file ever contains a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._support import run_cli
from waitbus_cli._config import Settings, load
from waitbus_cli._config_cmd import describe_error
from waitbus_cli._secrets import NAME_RE, SecretsError, read_secrets, store_secret

# Each example writes one file under a temp dir of its own (tmp_path_factory), so the
# function-scoped-fixture health check does not apply.
PROPS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

TOML_VALUE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(["true", "30d", '"30d"', '"500MB"', '"9' + "9" * 400 + 'w"', "[1, 2]", "{a = 1}", "1e999", "nan"]),
    st.from_regex(r'"[0-9]{1,30}(ms|s|m|h|d|w|MB|GiB|x)?"', fullmatch=True),
)
KEY = st.sampled_from(
    [
        "retention.older_than",
        "retention.max_size",
        "retention.max_rows",
        "hub.heartbeat_sec",
        "hub.lag_limit_bytes",
        "listener.port",
        "prometheus.owner",
        "conditions.ci",
        "nope.key",
        "retention.nope",
    ]
)
TOML_TEXT = st.lists(st.tuples(KEY, TOML_VALUE), max_size=5).map(lambda kv: "".join(f"{k} = {v}\n" for k, v in kv))


def deep_toml(depth: int) -> bytes:
    return b"conditions = {a = " + b"[" * depth + b"]" * depth + b"}\n"


def load_or_explain(path: Path) -> Settings | None:
    try:
        return load(path)
    except (ValueError, OSError) as exc:  # what every command catches (ValidationError and TOMLDecodeError too)
        lines = describe_error(exc)
        assert lines and all(line.strip() for line in lines)
        return None


@PROPS
@given(st.binary(max_size=200) | TOML_TEXT.map(str.encode) | st.integers(1, 20000).map(deep_toml))
def test_any_config_file_loads_or_gives_a_describable_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    settings_ = load_or_explain(path)
    if settings_ is not None:
        # What loads is usable: the retention limits convert without error.
        settings_.retention.older_than_s()
        settings_.retention.max_bytes()


NASTY_CONFIGS = {
    "deep": deep_toml(5000),
    "huge-duration": b'retention.older_than = "' + b"9" * 400 + b'w"\n',
    "huge-size": b'retention.max_size = "' + b"9" * 400 + b'MB"\n',
    "not-utf8": b"\xff\xfe = 1\n",
    "wrong-type": b"hub.heartbeat_sec = [1]\n",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(NASTY_CONFIGS))
def test_config_validate_exits_2_without_a_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(NASTY_CONFIGS[name])
    out = run_cli("config", "validate", str(path), timeout=30)
    assert out.returncode == 2, out.stderr[-500:]
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("waitbus config validate: ")


SECRET = st.text(st.characters(codec="utf-8"), min_size=8, max_size=40).filter(lambda s: s.strip() == s and s)


@PROPS
@given(st.binary(max_size=200) | st.integers(1, 20000).map(lambda d: b"[" * d + b"]" * d), SECRET)
def test_any_secrets_file_reads_or_gives_a_secrets_error_that_never_shows_a_secret(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, secret: str
) -> None:
    path = tmp_path_factory.mktemp("sec") / "secrets.json"
    # Garbage around a real secret: whatever the error says, it must not quote it.
    path.write_bytes(data + json.dumps({"emit-token": secret}).encode() + data)
    path.chmod(0o600)
    try:
        got = read_secrets(path)
    except SecretsError as exc:
        assert str(exc) and secret not in str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in got.items())


@PROPS
@given(
    st.from_regex(NAME_RE, fullmatch=True), SECRET, st.sampled_from([0o644, 0o640, 0o604, 0o660, 0o606, 0o610, 0o601])
)
def test_secrets_round_trip_at_0600_and_a_looser_file_is_refused(
    tmp_path_factory: pytest.TempPathFactory, name: str, secret: str, loose: int
) -> None:
    path = tmp_path_factory.mktemp("sec") / "secrets.json"
    assert store_secret(path, name, f"  {secret}\n") is False
    assert read_secrets(path) == {name: secret}
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(loose)
    with pytest.raises(SecretsError, match="chmod 600") as info:
        read_secrets(path)
    assert secret not in str(info.value)
