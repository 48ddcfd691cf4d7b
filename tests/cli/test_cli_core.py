"""The `waitbus` console script, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest

from tests._support import WAITBUS, run_cli
from waitbus_store import Store, resolve_paths


def test_emit_prints_the_event_id_and_stores_typed_fields():
    out = run_cli(
        "emit",
        "agent",
        "build_done",
        'status="ok"',
        "count=3",
        "nested.flag=true",
        "--owner",
        "me",
        "--summary",
        "built",
    )
    assert out.returncode == 0, out.stderr
    event_id = out.stdout.strip()
    with Store(resolve_paths().db) as store:
        row, payload = store.get(event_id)
    assert msgspec.json.decode(row.fields) == {
        "status": "ok",
        "count": 3,
        "nested": {"flag": True},
        "source": "agent",
        "event_type": "build_done",
    }
    assert (row.owner, row.summary, payload) == ("me", "built", None)


def test_repeated_delivery_id_is_reported_not_an_error():
    first = run_cli("emit", "agent", "x", "--delivery-id", "d-1", "--json")
    again = run_cli("emit", "agent", "x", "--delivery-id", "d-1")
    assert first.returncode == 0 and again.returncode == 0
    event_id = msgspec.json.decode(first.stdout)["event_id"]
    assert again.stdout.startswith(event_id) and "duplicate delivery id" in again.stdout


def test_payload_from_stdin_file_and_json(tmp_path):
    f = tmp_path / "body.bin"
    f.write_bytes(b"\x00\x01raw")
    ids = [
        run_cli("emit", "agent", "x", "--payload", "-", input="from stdin").stdout.strip(),
        run_cli("emit", "agent", "x", "--payload", f"@{f}").stdout.strip(),
        run_cli("emit", "agent", "x", "--payload", '{"a": 1}').stdout.strip(),
    ]
    with Store(resolve_paths().db) as store:
        assert [store.get(i)[1] for i in ids] == [b"from stdin", b"\x00\x01raw", b'{"a": 1}']


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["emit", "Bad", "x"], "source must be"),
        (["emit", "agent", "x", "status=ok"], "double quotes"),
        (["emit", "agent", "x", "noequals"], "has no '='"),
        (["emit", "agent", "x", "--payload", "{broken"], "not valid JSON"),
        (["emit", "agent", "x", "--payload", "@/nonexistent/file"], "No such file"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    db = resolve_paths().db
    if db.exists():
        with Store(db) as store:
            assert store.count() == 0


def test_unwritable_state_dir_exits_4(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        # root ignores permissions: make the state "dir" a file instead.
        blocker = tmp_path / "blocked"
        blocker.write_text("")
        monkeypatch.setenv("WAITBUS_STATE_DIR", str(blocker / "state"))
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        monkeypatch.setenv("WAITBUS_STATE_DIR", str(ro / "state"))
    out = run_cli("emit", "agent", "x")
    assert out.returncode == 4, out.stderr
    assert "cannot create" in out.stderr


def test_broadcast_serve_help_and_bad_flags():
    helped = run_cli("broadcast", "serve", "--help")
    assert helped.returncode == 0 and "--lag-limit-bytes" in helped.stdout
    bad = run_cli("broadcast", "serve", "--heartbeat-sec", "0")
    assert bad.returncode == 2 and "heartbeat" in bad.stderr


@pytest.mark.timeout(120)
def test_demo_runs_offline_and_prints_its_latency():
    out = run_cli("demo", "--rounds", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "event-to-unblock latency over 2 runs" in out.stdout
    for kind in ("pytest/pytest_session", "docker/docker_container", "fs/fs_change"):
        assert f"subscriber got {kind}" in out.stdout
    assert out.stdout.count("SYNTHESIZED") >= 5


HEAVY = ("typer", "pydantic", "pydantic_settings", "prometheus_client", "duckdb", "docker", "mcp", "msgspec")
# emit is the hottest verb: it also skips these (~20 ms together, half its old run time).
EMIT_SKIPS = ("argparse", "typing", "pathlib", "threading", "socket", "platformdirs", "waitbus_store._retention")


@pytest.mark.parametrize(
    "argv",
    [
        ["emit", "agent", "tick", "n=1"],
        ["wait", "--source", "agent", "--timeout", "1ms"],
        ["on", "--source", "agent", "--timeout", "1ms", "--", "true"],
    ],
    ids=["emit", "wait", "on"],
)
def test_hot_verbs_load_no_heavy_module(hub, argv):
    # emit must not load msgspec either; the waits decode the hub's frames with it.
    heavy = HEAVY + EMIT_SKIPS if argv[0] == "emit" else HEAVY[:-1]
    code = (
        "import sys\n"
        "from waitbus_cli import fast_verb\n"  # main() would os._exit before the check
        f"code = fast_verb({argv[0]!r}, {argv[1:]!r})\n"
        f"print(code, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    expected = {"emit": "0", "wait": "124", "on": "124"}[argv[0]]
    assert out.stdout.strip().splitlines()[-1] == f"{expected} []", out.stdout + out.stderr


def test_emit_into_a_closed_pipe_exits_141_quietly_and_keeps_the_event():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run(
            [WAITBUS, "emit", "agent", "piped"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write_end)
    assert out.returncode == 141 and out.stderr == ""
    with Store(resolve_paths().db) as store:
        assert [row.event_type for row in store.read_after(0)] == ["piped"]
