"""`waitbus on PRED -- CMD`, run as a real console-script subprocess against a real hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
import pytest

from tests._support import WAITBUS, run_cli
from waitbus import emit
from waitbus_wire import encode_frame

# Records exactly what it was exec'd with: argv and the initial environment (from
# /proc, so nothing Python adjusts at start-up muddies them), and the event file.
RECORDER = textwrap.dedent(
    """
    import json, os, stat, sys
    out = sys.argv[1]
    raw = open("/proc/self/environ", "rb").read().split(b"\\0")
    env = dict(item.decode().split("=", 1) for item in raw if item)
    path = env["WAITBUS_EVENT_FILE"]
    with open(out, "w") as f:
        json.dump({
            "argv": [a.decode() for a in open("/proc/self/cmdline", "rb").read().split(b"\\0")[:-1]],
            "env": env,
            "file": open(path).read(),
            "mode": stat.S_IMODE(os.stat(path).st_mode),
        }, f)
    sys.exit(7)
    """
)

# Logs its start, and its SIGTERM if one comes, then sleeps.
SLEEPER = textwrap.dedent(
    """
    import os, signal, sys, time
    log, ignore_term = sys.argv[1], sys.argv[2] == "ignore"
    me = os.environ["WAITBUS_SUMMARY"]
    def note(line):
        with open(log, "a") as f:
            f.write(line + "\\n")
    def on_term(signum, frame):
        note(f"term {me}")
        sys.exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore_term else on_term)
    note(f"start {me} {os.getpid()}")
    time.sleep(60)
    note(f"end {me}")
    """
)


def start(reap, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [WAITBUS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    reap(proc)
    return proc


def wait_subscribed(raw_client, proc: subprocess.Popen[str], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        client = raw_client()
        client.send_raw(encode_frame(msgspec.json.encode({"op": "stats"})))
        stats = client.next(5)
        client.close()
        assert stats is not None, "no stats from the hub"
        if stats["subscribers"] >= 1:
            return
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "`waitbus on` never subscribed"
        time.sleep(0.02)


def wait_for_line(log: Path, needle: str, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        if any(line.startswith(needle) for line in lines):
            return lines
        assert time.monotonic() < deadline, f"{needle!r} never logged; got {lines}"
        time.sleep(0.02)


def test_runs_once_with_the_event_in_env_and_file_and_exits_with_cmds_status(hub, tmp_path):
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    out_file = tmp_path / "seen.json"
    sent = emit(
        "ci",
        "build_done",
        fields={"status": "ok"},
        owner="acme",
        repo="app",
        delivery_id="del-1",
        summary="build ok",
    )
    argv = [sys.executable, str(script), str(out_file)]
    out = run_cli("on", "--source", "ci", "--since", "1m", "--timeout", "5s", "--", *argv)
    assert out.returncode == 7, out.stderr  # CMD's own status
    seen = json.loads(out_file.read_text())
    env = seen["env"]
    assert seen["argv"] == argv
    assert {k: v for k, v in env.items() if k.startswith("WAITBUS_") and k not in os.environ} == {
        "WAITBUS_EVENT_ID": sent.event_id,
        "WAITBUS_SOURCE": "ci",
        "WAITBUS_EVENT_TYPE": "build_done",
        "WAITBUS_OWNER": "acme",
        "WAITBUS_REPO": "app",
        "WAITBUS_SUMMARY": "build ok",
        "WAITBUS_DELIVERY_ID": "del-1",
        "WAITBUS_RECEIVED_AT": env["WAITBUS_RECEIVED_AT"],
        "WAITBUS_EVENT_FILE": env["WAITBUS_EVENT_FILE"],
    }
    assert int(env["WAITBUS_RECEIVED_AT"]) > 0
    event = json.loads(seen["file"])
    assert (event["event_id"], event["owner"], event["fields"]["status"]) == (sent.event_id, "acme", "ok")
    assert set(event) == {
        "event_id", "time", "event_type", "source", "owner", "repo", "received_at", "delivery_id", "summary", "fields"
    }  # fmt: skip
    assert seen["mode"] == 0o600
    assert not Path(env["WAITBUS_EVENT_FILE"]).exists()  # removed once CMD exited


def test_event_content_cannot_inject_into_argv_or_the_environment(hub, tmp_path):
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    marker, victim = tmp_path / "pwned", tmp_path / "victim"
    victim.write_text("keep me")
    nasty = f"$(touch {marker}) `touch {marker}`; rm -rf {victim} --flag -rf"
    emit(
        "ci",
        "evil",
        fields={"PATH": "/evil/bin", "LD_PRELOAD": "/evil.so", "cmd": nasty, "argv": ["--flag"]},
        owner="--owner-flag",
        repo="; rm -rf ~",
        delivery_id=f"; rm -rf {victim}",
        summary=nasty,
    )
    argv = [sys.executable, str(script), str(tmp_path / "seen.json"), "--literal", "$HOME", "a b"]
    out = run_cli("on", "--source", "ci", "--since", "1m", "--timeout", "5s", "--", *argv)
    assert out.returncode == 7, out.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    env = seen["env"]
    assert seen["argv"] == argv  # exactly the argv given: nothing added, nothing expanded
    assert env["PATH"] == os.environ["PATH"]
    assert "LD_PRELOAD" not in env or env["LD_PRELOAD"] == os.environ.get("LD_PRELOAD")
    # Every variable outside WAITBUS_* is the parent's, untouched.
    assert {k: v for k, v in env.items() if not k.startswith("WAITBUS_")} == {
        k: v for k, v in os.environ.items() if not k.startswith("WAITBUS_")
    }
    assert env["WAITBUS_SUMMARY"] == nasty and env["WAITBUS_OWNER"] == "--owner-flag"
    assert json.loads(seen["file"])["fields"]["PATH"] == "/evil/bin"  # the file carries it, as data
    assert not marker.exists() and victim.read_text() == "keep me"


def test_not_found_is_127_and_not_executable_is_126(hub, tmp_path):
    emit("ci", "x")
    missing = run_cli("on", "--source", "ci", "--since", "1m", "--timeout", "5s", "--", "no-such-command-wb")
    assert missing.returncode == 127
    assert "command not found: no-such-command-wb" in missing.stderr
    plain = tmp_path / "script.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    denied = run_cli("on", "--source", "ci", "--since", "1m", "--timeout", "5s", "--", str(plain))
    assert denied.returncode == 126
    assert "cannot execute" in denied.stderr
    # Nothing left behind in the runtime dir by either failed start.
    assert not list(Path(os.environ["WAITBUS_RUNTIME_DIR"]).glob("waitbus-event-*"))


def test_cmd_killed_by_a_signal_is_128_plus_n(hub):
    emit("ci", "x")
    out = run_cli(
        "on", "--source", "ci", "--since", "1m", "--timeout", "5s", "--",
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    )  # fmt: skip
    assert out.returncode == 128 + 9


def test_options_after_the_command_belong_to_the_command(hub, tmp_path):
    emit("ci", "x")
    out = run_cli(
        "on", "--source", "ci", "--since", "1m", "--timeout", "5s",
        sys.executable, "-c", "import sys; print(sys.argv[1:])", "--timeout", "--loop",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['--timeout', '--loop']"


def test_idle_timeout_without_a_match_is_124_and_cmd_never_runs(hub, tmp_path):
    marker = tmp_path / "ran"
    out = run_cli("on", "--source", "nothing", "--timeout", "1s", "--", "touch", str(marker))
    assert out.returncode == 124
    assert "no matching event for 1s" in out.stderr
    assert not marker.exists()


def test_loop_runs_cmd_for_every_match_in_order_then_idles_out(hub, raw_client, reap, tmp_path):
    log = tmp_path / "log"
    cmd = [sys.executable, "-c", f"import os; open({str(log)!r}, 'a').write(os.environ['WAITBUS_EVENT_ID'] + '\\n')"]
    proc = start(reap, "on", "--loop", "--source", "ci", "--timeout", "2s", "--", *cmd)
    wait_subscribed(raw_client, proc)
    ids = [emit("ci", "step", fields={"n": n}).event_id for n in range(2)]
    emit("other", "step")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 124, err  # the idle timeout ends the loop
    assert log.read_text().split() == ids


def test_loop_all_of_needs_a_fresh_set_for_each_run(hub, tmp_path):
    log = tmp_path / "log"
    cmd = [sys.executable, "-c", f"import os; open({str(log)!r}, 'a').write(os.environ['WAITBUS_EVENT_ID'] + '\\n')"]
    ids = [
        emit("a", "x", fields={"ok": 1}).event_id,
        emit("b", "y", fields={"ok": 1}).event_id,  # completes the set: run 1
        emit("b", "y", fields={"ok": 1}).event_id,  # b again, but a not met since run 1
        emit("a", "x", fields={"ok": 1}).event_id,  # completes the second set: run 2
    ]
    out = run_cli(
        "on", "--loop", "--all-of", "a:fields.ok=1", "--all-of", "b:fields.ok=1", "--since", "1m", "--timeout", "1s",
        "--", *cmd,
    )  # fmt: skip
    assert out.returncode == 124, out.stderr
    assert log.read_text().split() == [ids[1], ids[3]]


def test_loop_restart_terminates_a_running_cmd_for_the_new_event(hub, raw_client, reap, tmp_path):
    script, log = tmp_path / "sleeper.py", tmp_path / "log"
    script.write_text(SLEEPER)
    proc = start(reap, "on", "--loop", "--restart", "--source", "ci", "--", sys.executable, str(script), str(log), "x")
    wait_subscribed(raw_client, proc)
    emit("ci", "change", summary="A")
    wait_for_line(log, "start A")
    emit("ci", "change", summary="B")
    lines = wait_for_line(log, "start B")
    assert lines.index("term A") < next(i for i, x in enumerate(lines) if x.startswith("start B"))
    proc.send_signal(signal.SIGINT)  # the running CMD is stopped too
    _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    lines = log.read_text().splitlines()
    assert "term B" in lines and not any(x.startswith("end") for x in lines)


def test_restart_kills_a_cmd_that_ignores_sigterm_after_the_grace(hub, raw_client, reap, tmp_path):
    script, log = tmp_path / "sleeper.py", tmp_path / "log"
    script.write_text(SLEEPER)
    proc = start(
        reap, "on", "--loop", "--restart", "--grace", "0.3s", "--source", "ci", "--",
        sys.executable, str(script), str(log), "ignore",
    )  # fmt: skip
    wait_subscribed(raw_client, proc)
    emit("ci", "change", summary="A")
    first_pid = int(wait_for_line(log, "start A")[0].split()[2])
    emit("ci", "change", summary="B")
    wait_for_line(log, "start B")
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)  # SIGKILLed and reaped
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=15)
    assert proc.returncode == 128 + 15
    second_pid = int(wait_for_line(log, "start B")[-1].split()[2])
    with pytest.raises(ProcessLookupError):
        os.kill(second_pid, 0)


def test_sigint_while_waiting_is_130(hub, raw_client, reap, tmp_path):
    marker = tmp_path / "ran"
    proc = start(reap, "on", "--source", "ci", "--timeout", "60s", "--", "touch", str(marker))
    wait_subscribed(raw_client, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "ci"], "give the command to run"),
        (["--restart", "--source", "ci", "--", "true"], "--restart needs --loop"),
        (["--grace", "later", "--", "true"], "--grace"),
        (["--match", "x=y", "--", "true"], "double quotes"),
        (["--sha", "123", "--", "true"], "7-40 hex"),
        (["--timeout", "forever", "--", "true"], "--timeout"),
    ],
)
def test_bad_flags_exit_2(args, message):
    out = run_cli("on", *args)
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr


def test_no_hub_is_exit_2(tmp_path):
    out = run_cli("on", "--source", "ci", "--timeout", "5s", "--", "touch", str(tmp_path / "ran"))
    assert out.returncode == 2 and "no hub is listening" in out.stderr
    assert not (tmp_path / "ran").exists()
