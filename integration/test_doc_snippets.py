"""Every Python and shell snippet of README.md and docs/*.md, run verbatim with a time limit.

A Python block runs whole (`python -c`); a shell block runs one command at a time
(`bash -c`, continuation lines joined), because a block often lists commands that
never end (`watch`, `on --loop`). Each runs in a hermetic bus with a real hub while a
feeder emits, every 0.3 s, one event of each kind the snippets wait for: a wait that
the snippet shows is answered, not skipped.

Each snippet or command needs a SPEC below, or a marker in the doc right above its
fence saying why it cannot run here:

    <!-- snippet-skip: REASON -->                 the whole block
    <!-- snippet-skip "COMMAND PREFIX": REASON --> the block's commands that start so

`test_every_snippet_is_run_or_justified` fails on a snippet with neither, so a new
snippet is tested from the day it is written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>python|sh)\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
SKIP = re.compile(r'<!-- snippet-skip(?: "(?P<prefix>[^"]+)")?: (?P<reason>.+?) -->')


@dataclass(frozen=True)
class Snippet:
    doc: str  # path relative to the repo
    line: int  # the fence's line number
    lang: str
    code: str  # a Python block, or one shell command

    @property
    def key(self) -> str:
        first = self.code.splitlines()[0]
        return first if self.lang == "sh" else f"{self.doc}:{first}"

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.code.splitlines()[0][:50]}"


def _commands(body: str) -> Iterator[str]:
    current: list[str] = []  # continuation lines stay verbatim: bash joins them
    for line in body.splitlines():
        current.append(line)
        if line.endswith("\\"):
            continue
        command = "\n".join(current)
        current = []
        if command.strip() and not command.strip().startswith("#"):
            yield command


def _markers(before: str) -> str:
    """The marker lines right above a fence."""
    lines: list[str] = []
    for line in reversed(before.rstrip("\n ").splitlines()):
        if not SKIP.search(line):
            break
        lines.append(line)
    return "\n".join(lines)


def collect() -> tuple[list[Snippet], list[tuple[Snippet, str]]]:
    """(snippets to run, snippets skipped with the doc's reason)."""
    run: list[Snippet] = []
    skipped: list[tuple[Snippet, str]] = []
    for path in DOCS:
        text = path.read_text()
        for m in FENCE.finditer(text):
            doc = str(path.relative_to(REPO))
            line = text.count("\n", 0, m.start()) + 1
            marks = [(s.group("prefix"), s.group("reason")) for s in SKIP.finditer(_markers(text[: m.start()]))]
            body = textwrap.dedent(m.group("body"))
            pieces = [body] if m.group("lang") == "python" else list(_commands(body))
            for code in pieces:
                snippet = Snippet(doc, line, m.group("lang"), code)
                reason = next((r for p, r in marks if p is None or code.startswith(p)), None)
                (skipped.append((snippet, reason)) if reason else run.append(snippet))
    return run, skipped


@dataclass(frozen=True)
class Spec:
    code: int | None = 0  # the exit status; None: it runs until stopped
    expect: tuple[str, ...] = ()  # each must appear in stdout (for a `runs` spec, before it is stopped)
    cwd: str = "tmp"  # "tmp" (a fresh dir) or "repo"
    stubs: tuple[str, ...] = ()  # stand-ins on PATH for the user's own commands
    stdin: str = ""
    files: dict[str, str] = field(default_factory=dict)


def runs(*expect: str, **kw: object) -> Spec:
    return Spec(code=None, expect=expect, **kw)  # type: ignore[arg-type]


# The user's commands the snippets hand to `waitbus on` or pipe into: each stand-in
# prints what it was given, so the test sees that it ran and with what.
STUBS = {
    "notify-send": 'echo "notify-send: $*"',
    "make": 'echo "make: $* (event $WAITBUS_EVENT_TYPE)"',
    "my-consumer": 'while IFS= read -r line; do echo "consumed: ${line:0:40}"; done',
}
NOTIFY = '#!/bin/sh\necho "notify.sh: $WAITBUS_EVENT_TYPE $WAITBUS_SOURCE"\n'
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()

SPECS: dict[str, Spec] = {
    # README.md
    "make demo   # builds .venv if needed, then runs an offline end-to-end demo with measured latency": Spec(
        cwd="repo", expect=("subscriber got pytest/pytest_session",)
    ),
    "README.md:from waitbus import emit, wait_for, subscribe": runs(
        "pytest_session passed", "docker_container {'action': 'die'"
    ),
    "waitbus emit pytest pytest_session outcome='\"passed\"'          # works with no hub": Spec(),
    "waitbus wait --source pytest --match 'fields.event_type=\"pytest_session\"' --timeout 10m": Spec(),
    "waitbus wait --sha 7f3a1b2 --timeout 5m                        # exit 0 green, 1 red, 124 timeout": Spec(),
    "waitbus wait --sha 7f3a1b2 --timeout 5m": Spec(),
    "waitbus on --source fs --loop --restart -- make test           # no shell; event in WAITBUS_* env": runs(
        "make: test (event fs_change)", stubs=("make",)
    ),
    "waitbus read-events watch": runs("docker_container"),
    # docs/emitters.md
    'waitbus emit ci deploy env=\'"staging"\' ok=true --summary "staging deploy finished" --delivery-id '
    "deploy-1234": Spec(),
    "make -v >/dev/null; waitbus emit shell command_done cmd='\"make -v\"' exit_code=$? --summary "
    '"make -v exited"': Spec(),
    # docs/agent-messaging.md
    "docs/agent-messaging.md:from waitbus import respond, wait_for": Spec(),
    "waitbus emit agent agent_message msg_to='\"linter\"' msg_from='\"me\"' \\": Spec(),
    # docs/agents.md
    "docs/agents.md:from waitbus import emit, wait_for": Spec(),
    "examples/agents/run_demo.sh": Spec(cwd="repo"),
    'waitbus wait --sha "$(git rev-parse HEAD)" --since 1h --timeout 30m     # 0 green, 1 red, 124 timeout': Spec(
        cwd="repo"
    ),
    "waitbus wait --source pytest --match 'fields.outcome=\"failed\"' --timeout 10m --json": Spec(
        expect=('"outcome":"failed"',)
    ),
    "waitbus on --loop --source pytest --match 'fields.outcome=\"failed\"' -- ./notify.sh": runs(
        "notify.sh: pytest_session pytest", files={"notify.sh": NOTIFY}
    ),
    'waitbus emit agent build_done ok=true --summary "release build finished"': Spec(),
    "examples/bash/wait-for-ci.sh sha 7f3a1b2 --timeout 30m        # GREEN/RED/TIMEOUT, exit 0/1/124": Spec(
        cwd="repo", expect=("GREEN: CI for 7f3a1b2 passed",)
    ),
    'examples/bash/wait-for-ci.sh pytest --rootdir "$PWD" --timeout 10m': Spec(
        cwd="repo", expect=(f"GREEN: the pytest session in {REPO} passed",)
    ),
    "waitbus verify-plugin                     # from anywhere inside the checkout": Spec(cwd="repo"),
    # docs/bridge.md
    "waitbus install-credentials nats-user <<< bridge     # credentials come from the secrets file": Spec(),
    "waitbus install-credentials nats-password            # (reads the value from stdin)": Spec(stdin="s3cret\n"),
    # docs/cli-read.md
    "waitbus read-events watch --source pytest --match 'fields.outcome=\"failed\"'": runs("pytest_session"),
    "waitbus read-events watch --bookmark my-script --json | my-consumer": runs(
        'consumed: {"event_id"', stubs=("my-consumer",)
    ),
    "waitbus read-events list --since 1h --json": Spec(expect=('"source":"pytest"',)),
    "waitbus read-events list --limit 10 --source docker": Spec(expect=("docker_container",)),
    "waitbus replay --since 01JD5Z8Q4W6E7R8T9Y0A1B2C3D": Spec(),
    "waitbus replay --since 1d --bookmark nightly --coalesce --json": Spec(expect=('"source":"docker"',)),
    'waitbus events query "SELECT source, count(*) AS n FROM events GROUP BY source"': Spec(expect=("pytest",)),
    "waitbus events query --json \"SELECT event_id, json_extract(fields, '\\$.outcome') AS outcome FROM events "
    "WHERE source = 'pytest'\"": Spec(expect=('"outcome":"passed"',)),
    "waitbus events query - < report.sql": Spec(
        expect=("docker",), files={"report.sql": "SELECT source FROM events WHERE source = 'docker' LIMIT 1\n"}
    ),
    "waitbus events analyze": Spec(),
    'waitbus events analyze --sql "SELECT entity, count(*) FILTER (failed) AS failures FROM events GROUP BY ALL '
    'ORDER BY 2 DESC" --json': Spec(),
    "waitbus db prune --older-than 30d --max-size 500MB --dry-run": Spec(),
    "waitbus db prune --max-rows 100000 --json": Spec(),
    "waitbus db prune            # the configured retention": Spec(),
    'waitbus db migrate          # "migrated .../events.db from schema version 1 to 2"': Spec(),
    'waitbus db migrate --json   # {"db", "before", "after", "latest", "created", "migrated"}': Spec(),
    'waitbus db check          # ".../events.db: integrity ok", or the problems on stderr': Spec(
        expect=("integrity ok",)
    ),
    'waitbus db check --json   # {"db", "exists", "ok", "problems": [...]}': Spec(expect=('"ok":true',)),
    "waitbus stats": Spec(expect=("pytest",)),
    "waitbus stats --json   # {db, exists, db_bytes, wal_bytes, total, first_event, last_event, by_type: [...], "
    "bookmarks, schema_version}": Spec(expect=('"total"',)),
    "waitbus top": runs(),
    "waitbus top --since 1d --source github": runs(),
    "waitbus top --once --json": Spec(expect=("github",)),
    # docs/cli-wait.md and the source pages
    "waitbus wait --source docker --match 'fields.event_type=\"docker_container\"' --timeout 30s": Spec(),
    "waitbus wait --source fs --match 'fields.event_type=\"fs_change\"' --timeout 5m": Spec(),
    "waitbus wait --all-of 'pytest:fields.outcome=\"passed\"' --all-of 'docker:fields.action=\"die\"' "
    "--timeout 30m": Spec(),
    "waitbus on --loop --source pytest --match 'fields.outcome=\"failed\"' -- notify-send 'tests failed'": runs(
        "notify-send: tests failed", stubs=("notify-send",)
    ),
    "waitbus wait 'fields.outcome=\"failed\"' --source pytest --timeout 10m": Spec(),
    "waitbus on 'fields.outcome=\"failed\"' -- notify-send 'tests failed'": Spec(
        expect=("notify-send: tests failed",), stubs=("notify-send",)
    ),
    "waitbus wait --source pytest --match 'fields.outcome=\"failed\"' --match "
    "'fields.rootdir=\"/home/me/proj\"'": Spec(),
    "docs/source-pytest.md:from waitbus import wait_for": Spec(),
    "waitbus wait --source docker --match 'fields.action=\"die\"' --match 'fields.container=\"web-1\"' "
    "--timeout 10m": Spec(),
    "waitbus source fs ./src --recursive     # runs until SIGTERM (exit 0) or Ctrl-C (130)": runs(
        files={"src/app.py": ""}
    ),
    "waitbus wait --source fs --match 'fields.rel=\"app.py\"' --match 'fields.change=\"modified\"'": Spec(),
    "waitbus wait --source alertmanager --match 'fields.alertname=\"HighErrorRate\"' --match "
    "'fields.status=\"resolved\"'": Spec(),
    "openssl rand -hex 32 | tee /dev/stderr | waitbus install-credentials alertmanager-token": Spec(),
    "waitbus install-credentials emit-token        # once; paste the token (then restart the listener)": Spec(
        stdin="t0ken\n"
    ),
    "waitbus mcp serve                                      # where the waitbus CLI is installed (same server, "
    "same options)": runs(),
    ".venv/bin/waitbus-mcp                                  # from a checkout (after `make venv`)": runs(cwd="repo"),
}


def feed_once() -> None:
    """One event of every kind a snippet waits for."""
    from waitbus import emit

    emit("pytest", "pytest_session", fields={"outcome": "passed", "passed": 42, "rootdir": str(REPO)})
    emit("pytest", "pytest_session", fields={"outcome": "failed", "failed": 1, "rootdir": "/home/me/proj"})
    emit("docker", "docker_container", fields={"action": "die", "container": "web-1", "exit_code": 1})
    emit("fs", "fs_change", fields={"rel": "app.py", "change": "modified"})
    for sha in ("7f3a1b2c9d0e", HEAD):
        run = {"head_sha": sha, "status": "completed", "conclusion": "success"}
        emit("github", "workflow_run", fields=run, summary="workflow_run CI completed: success")
    emit("alertmanager", "alert", fields={"alertname": "HighErrorRate", "status": "resolved"})
    message = {"msg_to": "pydantic-fixer", "msg_from": "triage", "msg_correlation_id": "c0ffee" * 5 + "00"}
    emit("agent", "agent_message", fields={**message, "msg_reply_to": None, "msg_thread": "t", "msg_body": {}})


@pytest.fixture
def feeder(hub) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.3):
            feed_once()

    feed_once()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


RUNNABLE, SKIPPED = collect()


def test_every_snippet_is_run_or_justified() -> None:
    missing = [s.id for s in RUNNABLE if s.key not in SPECS]
    assert not missing, f"snippets with no SPEC in {__file__} and no snippet-skip marker: {missing}"
    stale = set(SPECS) - {s.key for s in RUNNABLE}
    assert not stale, f"SPECS for snippets no doc has any more: {stale}"
    assert all(len(reason) > 20 for _, reason in SKIPPED), "a skip marker must say why"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("snippet", RUNNABLE, ids=[s.id for s in RUNNABLE])
def test_snippet_runs_verbatim(snippet: Snippet, feeder, tmp_path: Path) -> None:
    spec = SPECS[snippet.key]
    cwd = REPO if spec.cwd == "repo" else tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    for name, content in spec.files.items():
        (cwd / name).parent.mkdir(parents=True, exist_ok=True)
        (cwd / name).write_text(content)
        (cwd / name).chmod(0o755)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in spec.stubs:
        (stubs / name).write_text(f"#!/bin/bash\n{STUBS[name]}\n")
        (stubs / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{BIN}:{os.environ['PATH']}"}
    argv = [sys.executable, "-c", snippet.code] if snippet.lang == "python" else ["bash", "-c", snippet.code]
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        if spec.code is not None:
            out, err = proc.communicate(spec.stdin, timeout=90)
            assert proc.returncode == spec.code, f"exit {proc.returncode}\n{out}\n{err}"
        else:
            out, err = _until_seen(proc, spec.expect)
        for text in spec.expect:
            assert text in out, f"{text!r} not in the output:\n{out}\n{err}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _until_seen(proc: subprocess.Popen[str], expect: tuple[str, ...]) -> tuple[str, str]:
    """For a command that never ends: let it run until its output shows every expected
    text (or 2 s with none expected), check it is still running, then stop it."""
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + (60 if expect else 2)
    while time.monotonic() < deadline and not (expect and all(t in "".join(lines) for t in expect)):
        time.sleep(0.05)
        assert proc.poll() is None, f"exited {proc.returncode} but should run until stopped:\n{''.join(lines)}"
    os.killpg(proc.pid, 15)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    reader.join(15)
    return "".join(lines), proc.stderr.read()
