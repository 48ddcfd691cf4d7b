"""`waitbus wait KEY=JSON` and `waitbus on KEY=JSON -- CMD`: the positional predicate is
`--match` by another name, and a predicate is never silently dropped (issue 14 item 1:
`on 'fields.outcome="failed"' -- echo hi` once fired on any event)."""

from __future__ import annotations

import pytest

from tests._support import run_cli
from waitbus import emit


@pytest.mark.timeout(60)
def test_on_positional_predicate_ignores_other_events(hub, tmp_path):
    emit("fs", "fs_change", fields={"rel": "a.py"})  # the event the old parser fired on
    failed = emit("pytest", "pytest_session", fields={"outcome": "failed"}).event_id
    out = run_cli(
        "on", 'fields.outcome="failed"', "--since", "1m", "--timeout", "5s", "--", "sh", "-c", "echo $WAITBUS_EVENT_ID"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == failed


@pytest.mark.timeout(60)
def test_on_positional_predicate_with_nothing_matching_times_out_without_running(hub, tmp_path):
    emit("fs", "fs_change", fields={"rel": "a.py"})
    marker = tmp_path / "ran"
    out = run_cli("on", 'fields.outcome="failed"', "--since", "1m", "--timeout", "1s", "--", "touch", str(marker))
    assert out.returncode == 124, out.stderr
    assert not marker.exists()


@pytest.mark.timeout(60)
def test_wait_positional_predicates_and_match_all_hold(hub):
    emit("pytest", "pytest_session", fields={"outcome": "failed", "rootdir": "/elsewhere"})
    wanted = emit("pytest", "pytest_session", fields={"outcome": "failed", "rootdir": "/p"}).event_id
    out = run_cli("wait", 'fields.outcome="failed"', "--since", "1m", "--timeout", "5s", 'fields.rootdir="/p"')
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == wanted
    out = run_cli(
        "wait", 'fields.outcome="passed"', "--match", 'fields.rootdir="/p"', "--since", "1m", "--timeout", "1s"
    )
    assert out.returncode == 124


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # `on` without `--`: a predicate-shaped first word would be run as the command
        (["on", "--source", "ci", 'fields.outcome="failed"', "echo", "hi"], "put the command after --"),
        (["on", 'fields.x="y"', "echo"], "put the command after --"),
        (["wait", "fields.x=y"], "double quotes"),  # same grammar, same message as --match
        (["wait", "not-a-predicate"], "waitbus wait:"),
        (["wait", "--no-such-flag"], "unrecognized arguments"),
        (["on", "--no-such-flag", "--", "true"], "unrecognized arguments"),
        (["on", "fields.x=1", "--"], "give the command to run"),
    ],
)
def test_misplaced_or_unknown_arguments_exit_2(args, message):
    out = run_cli(*args)
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr
