"""`waitbus config validate|schema`, `waitbus status` and `waitbus doctor`, run as the real
console script against a real hub."""

from __future__ import annotations

import http.server
import json
import os
import re
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli
from waitbus_store import resolve_paths


@pytest.fixture
def closed_listener_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The listener port doctor probes: one this test holds bound but never listens on, so
    nothing answers there (the default 9000 may be anyone's on a shared machine)."""
    import socket

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = int(held.getsockname()[1])
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(port))
    yield port
    held.close()


def default_config() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "waitbus" / "config.toml"


# -- config ----------------------------------------------------------------------------------


def test_missing_default_config_is_valid_and_prints_the_defaults():
    out = run_cli("config", "validate")
    assert out.returncode == 0, out.stderr
    assert f"no file at {default_config()}: the defaults apply" in out.stdout
    assert 'older_than = "30d"' in out.stdout and "heartbeat_sec = 60" in out.stdout


def test_valid_file_is_reported_with_its_effective_values(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[retention]\nolder_than = "7d"\nmax_size = "2GiB"\n[hub]\nheartbeat_sec = 5\n')
    out = run_cli("config", "validate", str(f), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["exists"] and data["path"] == str(f)
    assert data["config"]["retention"] == {"older_than": "7d", "max_size": "2GiB", "max_rows": None}
    assert data["config"]["hub"]["heartbeat_sec"] == 5


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[hub]\nheartbeat_sec = "often"\n', "hub.heartbeat_sec", "valid integer"),
        ("[hub]\nheartbeat_sec = 0\n", "hub.heartbeat_sec", "greater than or equal to 1"),
        ("[retention]\nkeep = 3\n", "retention.keep", "unknown key"),
        ("[nonsense]\n", "nonsense", "unknown key"),
        ('[retention]\nolder_than = "a while"\n', "retention.older_than", "bad duration"),
        ('[retention]\nmax_size = "lots"\n', "retention.max_size", "bad size"),
        ("[listener]\nport = 70000\n", "listener.port", "less than or equal to 65535"),
    ],
)
def test_invalid_config_exits_2_naming_the_key_and_the_problem(tmp_path, text, key, problem):
    f = tmp_path / "c.toml"
    f.write_text(text)
    out = run_cli("config", "validate", str(f))
    assert out.returncode == 2
    assert f"{f}: {key}: " in out.stderr and problem in out.stderr
    assert out.stdout == ""
    # The default location is checked the same way.
    default_config().parent.mkdir(parents=True, exist_ok=True)
    default_config().write_text(text)
    assert run_cli("config", "validate").returncode == 2


def test_toml_syntax_error_and_missing_named_file_exit_2(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[hub\n")
    out = run_cli("config", "validate", str(f))
    assert out.returncode == 2 and "line 1" in out.stderr
    missing = run_cli("config", "validate", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no config file at" in missing.stderr


def test_env_overrides_beat_the_file(tmp_path, monkeypatch):
    f = tmp_path / "c.toml"
    f.write_text('[retention]\nmax_rows = 10\n[prometheus]\nowner = "file-org"\n')
    monkeypatch.setenv("WAITBUS_RETENTION__MAX_ROWS", "250")
    monkeypatch.setenv("WAITBUS_PROM_OWNER", "env-org")
    out = run_cli("config", "validate", str(f), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["config"]["retention"]["max_rows"] == 250
    assert data["config"]["prometheus"]["owner"] == "env-org"
    assert data["env"] == ["WAITBUS_PROM_OWNER", "WAITBUS_RETENTION__MAX_ROWS"]
    text = run_cli("config", "validate", str(f))
    assert "max_rows = 250" in text.stdout and 'owner = "env-org"' in text.stdout
    monkeypatch.setenv("WAITBUS_RETENTION__MAX_ROWS", "many")
    bad = run_cli("config", "validate", str(f))
    assert bad.returncode == 2 and "retention.max_rows" in bad.stderr


def test_schema_is_json_schema_of_every_section():
    out = run_cli("config", "schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert set(schema["properties"]) == {"prometheus", "retention", "hub", "listener", "fs", "conditions"}
    assert schema["$defs"]["Hub"]["properties"]["heartbeat_sec"]["minimum"] == 1
    assert schema["$defs"]["Retention"]["additionalProperties"] is False


def test_toml_example_documents_every_key_and_uncommented_gives_the_defaults(tmp_path):
    out = run_cli("config", "schema", "--toml")
    assert out.returncode == 0
    schema = json.loads(run_cli("config", "schema").stdout)
    for section, ref in schema["properties"].items():
        assert f"[{section}]" in out.stdout
        if section == "conditions":  # a free-form table, shown with a commented example
            continue
        name = ref.get("$ref", "").rsplit("/", 1)[-1] or ref["allOf"][0]["$ref"].rsplit("/", 1)[-1]
        for key in schema["$defs"][name]["properties"]:
            assert re.search(rf"^# {key} =", out.stdout, re.M), key
    # Every `# key = value` line uncommented is a valid file equal to the defaults.
    uncommented = re.sub(r"^# (\w+ = \S.*)$", r"\1", out.stdout, flags=re.M)
    uncommented = "\n".join(line for line in uncommented.splitlines() if "(unset by default)" not in line)
    f = tmp_path / "example.toml"
    f.write_text(uncommented)
    checked = run_cli("config", "validate", str(f), "--json")
    assert checked.returncode == 0, checked.stderr + uncommented
    defaults = json.loads(run_cli("config", "validate", "--json").stdout)["config"]
    assert json.loads(checked.stdout)["config"] == defaults


# -- status ----------------------------------------------------------------------------------


def test_status_with_no_store_and_no_hub():
    out = run_cli("status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["events"] == 0 and data["last_event"] is None
    assert data["db"]["exists"] is False
    assert data["hub"]["alive"] is False and "no socket" in data["hub"]["reason"]
    text = run_cli("status")
    assert "hub         not running" in text.stdout and "no event store yet" in text.stdout


def test_status_counts_events_and_reports_the_live_hub(hub, raw_client):
    ids = [run_cli("emit", "agent", f"step_{i}", "--summary", f"step {i}").stdout.strip() for i in range(3)]
    sub = raw_client()
    sub.subscribe()
    out = run_cli("status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["events"] == 3
    assert data["last_event"]["event_id"] == ids[-1]
    assert (data["last_event"]["source"], data["last_event"]["event_type"]) == ("agent", "step_2")
    assert data["db"]["path"] == str(resolve_paths().db) and data["db"]["size_bytes"] > 0
    assert data["hub"]["alive"] is True and data["hub"]["pid"] == hub.pid
    assert data["hub"]["subscribers"] == 1
    text = run_cli("status").stdout
    assert f"events      3 in {resolve_paths().db}" in text
    assert f"last event  {ids[-1]} agent/step_2" in text and "step 2" in text
    assert f"pid {hub.pid}" in text and "1 subscriber," in text


def test_status_on_a_foreign_db_exits_2(tmp_path):
    db = resolve_paths().db
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE theirs (x)")
    conn.commit()
    conn.close()
    out = run_cli("status")
    assert out.returncode == 2 and "not a waitbus event store" in out.stderr


# -- doctor ----------------------------------------------------------------------------------

SECRET_VALUES = {"github-webhook-secret": "gh-VALUE-aaa111", "alertmanager-hmac": "am-VALUE-bbb222"}


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_listener_port: int) -> None:
    """`waitbus` on PATH, and a `systemctl` stand-in that has no user bus, so the real
    user manager is never asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(WAITBUS).parent}:{os.environ['PATH']}")


def doctor() -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, str]]]:
    out = run_cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    return out, checks


@pytest.mark.usefixtures("on_path")
def test_doctor_passes_on_a_healthy_setup_and_never_prints_secrets(hub):
    assert run_cli("init").returncode == 0
    for name, value in SECRET_VALUES.items():
        assert run_cli("install-credentials", name, input=value).returncode == 0
    text = run_cli("doctor")
    assert text.returncode == 0, text.stdout
    assert not [line for line in text.stdout.splitlines() if line.startswith("FAIL")]
    assert text.stdout.splitlines()[-1].startswith("doctor: 0 FAIL")
    assert re.search(r"^ok    hub: pid \d+", text.stdout, re.M)
    assert "ok    secret github-webhook-secret: present" in text.stdout
    assert "ok    secret emit-token: absent (optional)" in text.stdout
    as_json, checks = doctor()
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["ok"] is True
    assert checks["store"]["status"] == "ok" and checks["state dir"]["status"] == "ok"
    assert checks["waitbus on PATH"]["detail"] == WAITBUS
    watched = resolve_paths().state_dir / "watched_repos.txt"
    assert checks["watched repos"]["detail"] == f"{watched}: 0 repos"
    watched.write_text(watched.read_text() + "octo/app\nnot a repo\n")
    _, checks = doctor()
    assert checks["watched repos"]["status"] == "WARN" and "not a repo" in checks["watched repos"]["detail"]
    for out in (text, as_json):
        for value in SECRET_VALUES.values():
            assert value not in out.stdout + out.stderr


@pytest.mark.usefixtures("on_path")
def test_doctor_fails_on_a_loose_secrets_file_without_printing_it():
    assert run_cli("init").returncode == 0
    assert (
        run_cli("install-credentials", "github-webhook-secret", input=SECRET_VALUES["github-webhook-secret"]).returncode
        == 0
    )
    resolve_paths().secrets.chmod(0o644)
    out, checks = doctor()
    assert out.returncode == 1
    assert checks["secrets file"]["status"] == "FAIL" and "chmod 600" in checks["secrets file"]["detail"]
    assert SECRET_VALUES["github-webhook-secret"] not in out.stdout + out.stderr
    text = run_cli("doctor")
    assert text.returncode == 1 and "FAIL  secrets file" in text.stdout


@pytest.mark.usefixtures("on_path")
def test_doctor_fails_on_a_foreign_db_and_on_a_missing_store():
    missing, checks = doctor()
    assert missing.returncode == 1 and "waitbus init" in checks["store"]["detail"]
    db = resolve_paths().db
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE theirs (x)")
    conn.commit()
    conn.close()
    out, checks = doctor()
    assert out.returncode == 1
    assert checks["store"]["status"] == "FAIL" and "not a waitbus event store" in checks["store"]["detail"]
    db.write_bytes(b"this is not sqlite at all" * 100)
    out, checks = doctor()
    assert out.returncode == 1 and checks["store"]["status"] == "FAIL"


@pytest.mark.usefixtures("on_path")
def test_doctor_requires_the_webhook_secret_only_when_the_listener_is_enabled(hub):
    assert run_cli("init").returncode == 0
    out, checks = doctor()
    assert out.returncode == 0 and checks["listener"]["detail"].startswith("not running (opt-in")
    enable_listener()
    out, checks = doctor()
    assert out.returncode == 1
    assert checks["secret github-webhook-secret"]["status"] == "FAIL"
    assert checks["listener"]["status"] == "FAIL"


def enable_listener() -> None:
    """What `install-systemd` + `systemctl --user enable waitbus-listener.service` leave behind."""
    units = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"
    (units / "default.target.wants").mkdir(parents=True)
    (units / "waitbus-listener.service").write_text("[Service]\nExecStart=/bin/true\n")
    (units / "default.target.wants" / "waitbus-listener.service").symlink_to(units / "waitbus-listener.service")


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_listener() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.usefixtures("on_path")
def test_doctor_checks_listener_health_on_the_configured_port(hub, fake_listener, monkeypatch):
    assert run_cli("init").returncode == 0
    assert run_cli("install-credentials", "github-webhook-secret", input="x-VALUE").returncode == 0
    enable_listener()
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(fake_listener))
    out, checks = doctor()
    assert out.returncode == 0, out.stdout
    assert checks["listener"]["status"] == "ok", checks["listener"]
    assert f"127.0.0.1:{fake_listener}/healthz answered 200" in checks["listener"]["detail"]


@pytest.mark.usefixtures("on_path", "hub")
def test_doctor_reports_installed_units():
    assert run_cli("init").returncode == 0
    _, checks = doctor()
    assert checks["units"]["status"] == "WARN" and "install-systemd" in checks["units"]["detail"]
    assert run_cli("install-systemd").returncode == 0
    _, checks = doctor()
    assert checks["units"]["status"] == "ok" and checks["units"]["detail"].startswith("11/11 installed")
    timer = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "waitbus-watchdog.timer"
    timer.write_text(timer.read_text().replace("5min", "1h"))
    _, checks = doctor()
    assert checks["units"]["status"] == "WARN" and "out of date: waitbus-watchdog.timer" in checks["units"]["detail"]


def test_the_admin_reference_documents_every_config_key():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli-admin.md").read_text()
    config = json.loads(run_cli("config", "validate", "--json").stdout)["config"]
    for section, values in config.items():
        for key in values:
            assert f"`{section}.{key}`" in doc, f"{section}.{key} missing from docs/cli-admin.md"
