"""`waitbus wait`, run as a real console-script subprocess against a real hub."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from tests._support import WAITBUS, run_cli
from waitbus import emit
from waitbus_wire import encode_frame


def start(reap, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [WAITBUS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    reap(proc)
    return proc


def subscribers(raw_client) -> int:
    client = raw_client()
    client.send_raw(encode_frame(msgspec.json.encode({"op": "stats"})))
    stats = client.next(5)
    client.close()
    assert stats is not None and stats["kind"] == "hub_stats", stats
    return int(stats["subscribers"])  # type: ignore[call-overload]


def wait_subscribed(raw_client, proc: subprocess.Popen[str], n: int = 1, timeout: float = 15) -> None:
    """Block until `n` subscribers are live on the hub (the waiter is blocked)."""
    deadline = time.monotonic() + timeout
    while subscribers(raw_client) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the waiter never subscribed"
        time.sleep(0.02)


def finish(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def cli_emit(*args: str) -> str:
    out = run_cli("emit", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def still_blocked(proc: subprocess.Popen[str], seconds: float = 0.7) -> bool:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


# -- the product README's examples, verbatim -------------------------------------------------------

README_EXAMPLES = [
    (
        ["--source", "pytest", "--match", 'fields.event_type="pytest_session"', "--timeout", "10m"],
        ("pytest", "pytest_session", {"outcome": "passed"}),
    ),
    (
        ["--source", "docker", "--match", 'fields.event_type="docker_container"', "--timeout", "30s"],
        ("docker", "docker_container", {"action": "die", "exit_code": 0}),
    ),
    (
        ["--source", "fs", "--match", 'fields.event_type="fs_change"', "--timeout", "5m"],
        ("fs", "fs_change", {"path": "src/app.py", "change": "modified"}),
    ),
]


@pytest.mark.parametrize(("args", "event"), README_EXAMPLES, ids=["pytest", "docker", "fs"])
def test_readme_examples_block_until_their_event_and_print_one_line(hub, raw_client, reap, args, event):
    source, event_type, fields = event
    waiter = start(reap, "wait", *args)
    wait_subscribed(raw_client, waiter)
    emit(source, "other_kind", fields=fields)  # same source, wrong type: must not end the wait
    emit("agent", event_type)  # right type, wrong source
    assert still_blocked(waiter)
    event_id = emit(source, event_type, fields=fields, summary="the one").event_id
    code, out, err = finish(waiter)
    assert code == 0, err
    assert out == f"{event_id} {source}/{event_type} the one\n"


def test_readme_sha_example_exits_0_on_a_green_run(hub, raw_client, reap):
    waiter = start(reap, "wait", "--sha", "7f3a1b2", "--timeout", "5m")
    wait_subscribed(raw_client, waiter)
    event_id = cli_emit(
        "github",
        "workflow_run",
        'head_sha="7f3a1b2c0ffee00000000000000000000000000a"',
        'status="completed"',
        'conclusion="success"',
        "--owner",
        "acme",
        "--repo",
        "app",
        "--delivery-id",
        "gh-delivery-1",
    )
    code, out, err = finish(waiter)
    assert (code, out.split()[0]) == (0, event_id), err


# -- --sha: only a terminal conclusion ends the wait -------------------------------------------------


def gh(conclusion: str | None, *, status: str = "completed", sha: str = "7f3a1b2c0ffee", kind: str = "workflow_run"):
    fields = [f'head_sha="{sha}"', f'status="{status}"']
    if conclusion is not None:
        fields.append(f'conclusion="{conclusion}"')
    return cli_emit("github", kind, *fields, "--owner", "acme", "--repo", "app")


@pytest.mark.parametrize(("conclusion", "expected"), [("success", 0), ("failure", 1)])
def test_sha_keeps_waiting_through_non_terminal_runs(hub, raw_client, reap, conclusion, expected):
    waiter = start(reap, "wait", "--sha", "7F3A1B2", "--timeout", "20s", "--json")
    wait_subscribed(raw_client, waiter)
    gh(None, status="in_progress")
    gh("skipped")
    gh("neutral")
    gh("action_required")
    gh("stale")
    gh("failure", sha="0000000aaaa")  # another commit
    gh("success", kind="workflow_job")  # one job green says nothing about the run
    assert still_blocked(waiter)
    event_id = gh(conclusion)
    code, out, err = finish(waiter)
    assert code == expected, err
    assert msgspec.json.decode(out)["event_id"] == event_id


@pytest.mark.parametrize("conclusion", ["cancelled", "timed_out"])
def test_a_failed_job_or_nested_webhook_shape_decides_with_exit_1(hub, conclusion):
    # The raw webhook shape nests the run under its event type.
    emit(
        "github",
        "workflow_job",
        fields={"workflow_job": {"head_sha": "abcdef1234", "status": "completed", "conclusion": conclusion}},
    )
    out = run_cli("wait", "--sha", "abcdef1", "--since", "1m", "--timeout", "3s")
    assert out.returncode == 1, out.stderr
    assert "github/workflow_job" in out.stdout


def test_a_failed_run_matched_without_sha_also_exits_1(hub):
    emit("github", "workflow_run", fields={"status": "completed", "conclusion": "failure"})
    out = run_cli(
        "wait", "--source", "github", "--match", 'fields.status="completed"', "--since", "1m", "--timeout", "3s"
    )
    assert out.returncode == 1, out.stderr


# -- output ----------------------------------------------------------------------------------------------


def test_json_prints_every_event_field(hub):
    sent = emit(
        "agent",
        "build_done",
        fields={"status": "ok", "n": 3},
        owner="acme",
        repo="app",
        delivery_id="d-42",
        summary="built it",
    )
    out = run_cli("wait", "--source", "agent", "--since", "1m", "--timeout", "3s", "--json")
    assert out.returncode == 0, out.stderr
    event = msgspec.json.decode(out.stdout)
    received_at = event.pop("received_at")
    assert isinstance(received_at, int) and abs(received_at / 1e9 - time.time()) < 60
    assert event.pop("time").endswith("Z")
    assert event == {
        "event_id": sent.event_id,
        "event_type": "build_done",
        "source": "agent",
        "owner": "acme",
        "repo": "app",
        "delivery_id": "d-42",
        "summary": "built it",
        "fields": {"status": "ok", "n": 3, "source": "agent", "event_type": "build_done"},
    }
    assert out.stdout.count("\n") == 1


# -- --since -------------------------------------------------------------------------------------------


def test_since_finds_an_event_emitted_just_before_the_wait(hub):
    sent = emit("pytest", "pytest_session", fields={"outcome": "passed"}).event_id
    without = run_cli("wait", "--source", "pytest", "--timeout", "1s")
    assert without.returncode == 124  # proves the look-back is what finds it
    found = run_cli("wait", "--source", "pytest", "--since", "10m", "--timeout", "3s")
    assert (found.returncode, found.stdout.split()[0]) == (0, sent), found.stderr


def test_since_an_event_id_replays_only_what_came_after_it(hub):
    first = emit("agent", "step", fields={"n": 1}).event_id
    second = emit("agent", "step", fields={"n": 2}).event_id
    out = run_cli("wait", "--source", "agent", "--since", first, "--timeout", "3s")
    assert (out.returncode, out.stdout.split()[0]) == (0, second), out.stderr


# -- multi-source predicates -----------------------------------------------------------------------------


def test_all_of_is_sticky_across_events_from_different_sources(hub, raw_client, reap):
    waiter = start(
        reap,
        "wait",
        "--all-of",
        'pytest:fields.outcome="passed"',
        "--all-of",
        'docker:fields.action="die"',
        "--timeout",
        "20s",
    )
    wait_subscribed(raw_client, waiter)
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    emit("docker", "docker_container", fields={"action": "start"})
    assert still_blocked(waiter)  # one clause met, the other not yet
    emit("pytest", "pytest_session", fields={"outcome": "failed"})  # does not un-meet the first
    last = emit("docker", "docker_container", fields={"action": "die"}).event_id
    code, out, err = finish(waiter)
    assert (code, out.split()[0]) == (0, last), err


def test_first_of_returns_on_the_first_clause_met(hub):
    emit("pytest", "pytest_session", fields={"outcome": "failed"})
    hit = emit("docker", "docker_container", fields={"action": "die"}).event_id
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    out = run_cli(
        "wait",
        "--first-of",
        'pytest:fields.outcome="passed"',
        "--first-of",
        'docker:fields.action="die"',
        "--since",
        "1m",
        "--timeout",
        "3s",
    )
    assert (out.returncode, out.stdout.split()[0]) == (0, hit), out.stderr


def test_repo_and_repeated_match_keys(hub):
    emit("agent", "x", owner="acme", repo="other", fields={"k": "a"})
    emit("agent", "x", owner="other", repo="app", fields={"k": "a"})
    emit("agent", "x", owner="acme", repo="app", fields={"k": "c"})
    hit = emit("agent", "x", owner="acme", repo="app", fields={"k": "b"}).event_id
    out = run_cli(
        "wait", "--repo", "acme/app", "--match", 'fields.k="a"', "--match", 'fields.k="b"', "--since", "1m",
        "--timeout", "3s",
    )  # fmt: skip
    assert (out.returncode, out.stdout.split()[0]) == (0, hit), out.stderr


# -- named conditions --------------------------------------------------------------------------------------


def test_cond_from_the_config_file(hub, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[conditions]\ngreen = ['fields.conclusion=\"success\"']\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    emit("github", "workflow_run", fields={"conclusion": "failure"})
    hit = emit("github", "workflow_run", fields={"conclusion": "success"}).event_id
    out = run_cli("wait", "--cond", "green", "--since", "1m", "--timeout", "3s")
    assert (out.returncode, out.stdout.split()[0]) == (0, hit), out.stderr
    unknown = run_cli("wait", "--cond", "blue", "--timeout", "1s")
    assert unknown.returncode == 2
    assert "unknown condition 'blue'" in unknown.stderr and "known: green" in unknown.stderr


def test_cond_from_an_entry_point(hub, tmp_path, monkeypatch):
    plug = tmp_path / "plug"
    (plug / "wbplug-0.1.dist-info").mkdir(parents=True)
    (plug / "wbplug.py").write_text("RED = ['fields.conclusion=\"failure\"']\n")
    (plug / "wbplug-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: wbplug\nVersion: 0.1\n")
    (plug / "wbplug-0.1.dist-info" / "entry_points.txt").write_text("[waitbus.conditions.v1]\nred = wbplug:RED\n")
    monkeypatch.setenv("PYTHONPATH", str(plug))
    hit = emit("ci", "done", fields={"conclusion": "failure"}).event_id
    out = run_cli("wait", "--cond", "red", "--since", "1m", "--timeout", "3s")
    assert (out.returncode, out.stdout.split()[0]) == (0, hit), out.stderr


def test_a_bad_condition_in_the_config_is_exit_2(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[conditions]\nbroken = ['fields.conclusion=success']\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    out = run_cli("wait", "--cond", "broken", "--timeout", "1s")
    assert out.returncode == 2
    assert str(config) in out.stderr and "double quotes" in out.stderr


# -- exit codes ---------------------------------------------------------------------------------------------


def test_timeout_is_124(hub):
    t0 = time.monotonic()
    out = run_cli("wait", "--source", "nothing", "--timeout", "1s")
    assert out.returncode == 124
    assert "timed out after 1s" in out.stderr
    assert time.monotonic() - t0 > 0.9  # it waited; run_cli's own timeout catches a hang


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sha", "7f3a1"], "7-40 hex"),
        (["--sha", "not-hex-at-all"], "7-40 hex"),
        (["--sha", "7f3a1b2", "--source", "pytest"], "cannot be combined"),
        (["--repo", "acme"], "OWNER/REPO"),
        (["--match", "fields.status=completed"], "double quotes"),
        (["--match", "no-equals"], "has no '='"),
        (["--timeout", "soon"], "--timeout: bad duration"),
        (["--timeout", "0s"], "more than 0"),
        (["--since", "yesterday"], "--since must be"),
        (["--source", "Not A Name"], "--source must be"),
        (["--all-of", "a:x=1", "--first-of", "b:y=2"], "not both"),
        (["--all-of", "pytest:fields.outcome=passed"], "double quotes"),
        (["--cond", "nope"], "unknown condition 'nope'"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_before_connecting(args, message):
    out = run_cli("wait", *args, "--timeout", "1s") if "--timeout" not in args else run_cli("wait", *args)
    assert out.returncode == 2, out
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_no_hub_and_no_autostart_is_exit_2():
    out = run_cli("wait", "--source", "pytest", "--timeout", "5s")
    assert out.returncode == 2
    assert "no hub is listening" in out.stderr and "waitbus broadcast serve" in out.stderr


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_sigint_to_a_blocked_wait_is_130_promptly_and_it_idles(hub, raw_client, reap):
    waiter = start(reap, "wait", "--source", "pytest", "--timeout", "60s")
    wait_subscribed(raw_client, waiter)
    if Path(f"/proc/{waiter.pid}/stat").exists():
        before = _cpu_ticks(waiter.pid)
        time.sleep(1.5)
        assert _cpu_ticks(waiter.pid) - before <= 2  # asleep on the socket, not polling
    waiter.send_signal(signal.SIGINT)
    code, _out, err = finish(waiter, timeout=10)  # not the 60 s timeout: woken by the signal
    assert code == 130, err
    assert "Traceback" not in err
