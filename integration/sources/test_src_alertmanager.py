"""The Alertmanager source against the real thing: Debian's prometheus-alertmanager
(tools/peers/alertmanager.sh installs it) posting to a real `waitbus listener serve`,
with no proxy in between.

Each test starts its own Alertmanager on a free loopback port with a temp storage
path and clustering off, configured with a webhook receiver pointing at the listener
and the bearer token in `http_config.authorization.credentials`; alerts go in through
Alertmanager's own API (/api/v2/alerts). What each test proves is in its docstring.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._support import WAITBUS, free_port, run_cli, wait_until
from waitbus_store import Store, resolve_paths

pytestmark = pytest.mark.slow

TOKEN = "am-integration-token-5f2c"
HMAC_KEY = "signing-proxy-key-91e0"
PAYLOADS = Path(__file__).resolve().parents[2] / "tests" / "alertmanager" / "payloads"


def _alertmanager_binary() -> str | None:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/prometheus-alertmanager" if os.access("/usr/bin/prometheus-alertmanager", os.X_OK) else None


AM_BINARY = _alertmanager_binary()
needs_alertmanager = pytest.mark.skipif(
    AM_BINARY is None,
    reason="prometheus-alertmanager is not installed and could not be: run tools/peers/alertmanager.sh "
    "(apt-get install prometheus-alertmanager) as root",
)


def http(method: str, url: str, body: Any = None, timeout: float = 5) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def events(event_type: str | None = None) -> list[dict[str, Any]]:
    """The alertmanager events in this test's log, fields decoded (plus the row's columns)."""
    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        rows = store.read_after(0, 10_000)
    return [
        {**json.loads(r.fields), "_owner": r.owner, "_repo": r.repo, "_summary": r.summary, "_delivery": r.delivery_id}
        for r in rows
        if r.source == "alertmanager" and (event_type is None or r.event_type == event_type)
    ]


def iso(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Alertmanager:
    def __init__(self, tmp: Path, listener_port: int, credentials: str, repeat_interval: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "alertmanager.log"
        config = {
            "route": {
                "receiver": "waitbus",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": repeat_interval,
                "routes": [{"matchers": ['alertname="Watchdog"'], "receiver": "waitbus-watchdog"}],
            },
            "receivers": [
                {"name": name, "webhook_configs": [self._webhook(listener_port, path, credentials)]}
                for name, path in (("waitbus", "/alertmanager"), ("waitbus-watchdog", "/watchdog"))
            ],
        }
        self.config = tmp / "alertmanager.yml"
        self.config.write_text(json.dumps(config, indent=1))  # JSON is YAML
        self.storage = tmp / "am-data"
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _webhook(port: int, path: str, credentials: str) -> dict[str, Any]:
        return {
            "url": f"http://127.0.0.1:{port}{path}",
            "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": credentials}},
        }

    def start(self) -> Alertmanager:
        assert AM_BINARY is not None
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    AM_BINARY,
                    f"--config.file={self.config}",
                    f"--storage.path={self.storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no gossip, no second port
                    "--log.level=debug",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: http("GET", f"{self.url}/-/ready")[0] == 200, "alertmanager /-/ready", 30, alive=self.proc)
        return self

    def post(self, alerts: list[dict[str, Any]]) -> None:
        status, body = http("POST", f"{self.url}/api/v2/alerts", alerts)
        assert status == 200, (status, body)

    def metric(self, name: str) -> float:
        """A webhook-integration counter from Alertmanager's own /metrics."""
        status, body = http("GET", f"{self.url}/metrics")
        assert status == 200
        m = re.search(rf'^{name}{{integration="webhook"}} (\S+)$', body.decode(), re.M)
        return float(m.group(1)) if m else 0.0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def staged_token() -> str:
    """The token staged the way a user does it: `waitbus install-credentials` from stdin."""
    done = run_cli("install-credentials", "alertmanager-token", input=TOKEN + "\n")
    assert done.returncode == 0, done.stderr
    return TOKEN


@pytest.fixture
def staged_hmac() -> str:
    done = run_cli("install-credentials", "alertmanager-hmac", input=HMAC_KEY)
    assert done.returncode == 0, done.stderr
    return HMAC_KEY


@pytest.fixture
def listener(staged_token: str, tmp_path: Path) -> Iterator[int]:
    """A real `waitbus listener serve` on a free port (it reads the secrets file at start)."""
    port = free_port()
    log = tmp_path / "listener.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [WAITBUS, "listener", "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, "listener /healthz", 30, alive=proc
        )
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                assert proc.wait(20) == 0, log.read_text()
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                raise


@pytest.fixture
def alertmanager_factory(tmp_path: Path) -> Iterator[Callable[..., Alertmanager]]:
    made: list[Alertmanager] = []

    def make(listener_port: int, credentials: str, repeat_interval: str = "1h") -> Alertmanager:
        am = Alertmanager(tmp_path, listener_port, credentials, repeat_interval)
        made.append(am)
        return am.start()

    yield make
    for am in made:
        am.stop()


def alert(
    name: str, *, ends_in: float | None = None, labels: dict[str, str] | None = None, **more: str
) -> dict[str, Any]:
    labels = {**(labels or {}), **more}
    out: dict[str, Any] = {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} on {labels.get('instance', 'x')}", "description": "from the test"},
        "generatorURL": "http://prometheus.invalid/graph",
        "startsAt": iso(-30),
    }
    if ends_in is not None:
        out["endsAt"] = iso(ends_in)
    return out


@needs_alertmanager
@pytest.mark.timeout(120)
def test_firing_repeats_and_resolve_from_a_real_alertmanager(
    hub, listener, alertmanager_factory, reap, await_subscribers
):
    """A real Alertmanager's notifications become one event per alert state: its repeat
    notifications (counted by its own metrics) store nothing new, the resolve is a new
    event that unblocks a real `waitbus wait`, and labels and annotations arrive intact."""
    am = alertmanager_factory(listener, TOKEN, repeat_interval="2s")
    labels = {"severity": "critical", "instance": "web-1", "owner": "acme", "repo": "shop"}
    am.post([alert("HighErrorRate", labels=labels)])
    (fired,) = wait_until(lambda: events("prometheus_alert"), "the firing event", 30)
    assert (fired["alertname"], fired["status"], fired["severity"]) == ("HighErrorRate", "firing", "critical")
    assert (fired["_owner"], fired["_repo"]) == ("acme", "shop")
    assert fired["_summary"] == "[firing] HighErrorRate (critical): HighErrorRate on web-1"
    assert fired["labels"]["instance"] == "web-1" and fired["description"] == "from the test"
    assert fired["receiver"] == "waitbus" and fired["group_key"] == '{}:{alertname="HighErrorRate"}'
    assert re.fullmatch(r"[0-9a-f]{16}", fired["fingerprint"])

    # Alertmanager re-sends the unchanged group every repeat_interval (2 s here).
    sent = wait_until(lambda: am.metric("alertmanager_notifications_total") >= 3, "three webhook notifications", 30)
    assert sent
    assert am.metric("alertmanager_notifications_failed_total") == 0
    assert len(events("prometheus_alert")) == 1, "a repeat notification stored a second event"

    wait_cmd = [WAITBUS, "wait", "--source", "alertmanager", "--match", 'fields.status="resolved"']
    waiter = reap(
        subprocess.Popen([*wait_cmd, "--json", "--timeout", "60s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    )
    await_subscribers(1)
    am.post([alert("HighErrorRate", ends_in=-1, labels=labels)])  # endsAt in the past: resolved
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    got = json.loads(out)
    assert got["fields"]["status"] == "resolved" and got["fields"]["fingerprint"] == fired["fingerprint"]
    assert got["event_type"] == "prometheus_alert" and got["fields"]["ends_at"]

    # Give Alertmanager time for more flushes: a resolved group is not re-sent, and
    # nothing else is stored.
    time.sleep(3)
    stored = events("prometheus_alert")
    assert [e["status"] for e in stored] == ["firing", "resolved"]
    assert len({e["_delivery"] for e in stored}) == 2


@pytest.fixture(params=["env", "toml"])
def prom_labels(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`[prometheus] owner/repo` set the two documented ways, before the listener starts."""
    if request.param == "env":
        monkeypatch.setenv("WAITBUS_PROM_OWNER", "acme")
        monkeypatch.setenv("WAITBUS_PROM_REPO", "ops")
    else:
        config = tmp_path / "config.toml"
        config.write_text('[prometheus]\nowner = "acme"\nrepo = "ops"\n')
        monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    return str(request.param)


@needs_alertmanager
@pytest.mark.timeout(120)
def test_prometheus_owner_repo_label_alerts_that_have_none(hub, prom_labels, listener, alertmanager_factory):
    """An alert without owner/repo labels gets [prometheus] owner/repo, so `--repo`
    filters reach it; an alert with its own labels keeps them."""
    am = alertmanager_factory(listener, TOKEN)
    am.post([alert("NoLabels", severity="warning"), alert("Labelled", labels={"owner": "zed", "repo": "shop"})])
    wait_until(lambda: len(events("prometheus_alert")) == 2, "both events", 30)
    got = {e["alertname"]: (e["_owner"], e["_repo"]) for e in events("prometheus_alert")}
    assert got == {"NoLabels": ("acme", "ops"), "Labelled": ("zed", "shop")}
    waited = run_cli("wait", "--repo", "acme/ops", "--source", "alertmanager", "--since", "5m", "--timeout", "10s")
    assert waited.returncode == 0 and "NoLabels" in waited.stdout, waited.stderr


@needs_alertmanager
@pytest.mark.timeout(120)
def test_a_second_alert_joining_the_group_repeats_the_first_without_a_duplicate(listener, alertmanager_factory):
    """When a second alert joins a group, Alertmanager re-sends the whole group; the
    first alert in it is a duplicate, the second a new event."""
    am = alertmanager_factory(listener, TOKEN)
    am.post([alert("DiskFull", severity="warning", instance="db-1")])
    wait_until(lambda: len(events()) == 1, "the first event", 30)
    am.post([alert("DiskFull", severity="warning", instance="db-2")])
    wait_until(lambda: len(events()) == 2, "the second event", 30)
    wait_until(lambda: am.metric("alertmanager_notifications_total") >= 2, "the group notification", 30)
    time.sleep(2)
    assert sorted(e["labels"]["instance"] for e in events()) == ["db-1", "db-2"]


@needs_alertmanager
@pytest.mark.timeout(120)
def test_a_wrong_token_in_alertmanager_stores_nothing(listener, alertmanager_factory):
    """Alertmanager configured with a token that is not the staged one: the listener
    answers 401 (Alertmanager logs it and counts a failed notification) and the log
    stays empty."""
    am = alertmanager_factory(listener, "not-the-staged-token")
    am.post([alert("HighErrorRate", severity="critical", instance="web-1"), alert("Watchdog", severity="none")])
    wait_until(lambda: am.metric("alertmanager_notifications_failed_total") >= 2, "failed notifications", 60)
    assert "unexpected status code 401" in am.log_text() and "bad credentials" in am.log_text()
    time.sleep(1)
    assert events() == []
    assert not (resolve_paths().state_dir / "watchdog" / "heartbeat").exists()


@needs_alertmanager
@pytest.mark.timeout(120)
def test_the_watchdog_route_and_check_with_a_real_alertmanager(listener, alertmanager_factory):
    """Alertmanager's Watchdog, routed to /watchdog, makes `waitbus watchdog-check run`
    say fresh (flag file `fresh`); when the Watchdog resolves (Prometheus stopped
    sending it) the check turns stale, writes `stale` and emits one stale event."""
    am = alertmanager_factory(listener, TOKEN)
    flags = resolve_paths().state_dir / "watchdog"
    am.post([alert("Watchdog", severity="none")])
    (beat,) = wait_until(lambda: events("prometheus_watchdog"), "the heartbeat event", 30)
    assert (beat["alertname"], beat["status"], beat["receiver"]) == ("Watchdog", "firing", "waitbus-watchdog")
    assert (flags / "heartbeat").exists()

    def check() -> subprocess.CompletedProcess[str]:
        return run_cli("watchdog-check", "run", "--stale-after", "10m")

    fresh = check()
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith("fresh: ")
    assert sorted(p.name for p in flags.iterdir() if p.name in ("fresh", "stale")) == ["fresh"]

    am.post([alert("Watchdog", severity="none", ends_in=-1)])
    wait_until(
        lambda: any(e["status"] == "resolved" for e in events("prometheus_watchdog")), "the resolved Watchdog", 30
    )
    for _ in range(2):
        stale = check()
        assert stale.returncode == 1, stale.stderr
        assert "resolved" in stale.stdout
    assert sorted(p.name for p in flags.iterdir() if p.name in ("fresh", "stale")) == ["stale"]
    assert [e["reason"] for e in events("prometheus_watchdog") if e.get("state") == "stale"] == ["resolved"]


@pytest.mark.timeout(60)
def test_a_signing_proxy_hmac_passes_through_the_real_listener(staged_hmac, listener):
    """No Alertmanager here (stock Alertmanager cannot sign): the body it sent, captured
    in tests/alertmanager/payloads, posted to the real listener as a signing proxy
    would, with the HMAC header and no bearer token."""
    from waitbus_sources_alertmanager import sign

    raw = (PAYLOADS / "firing.json").read_bytes()
    url = f"http://127.0.0.1:{listener}/alertmanager"

    def post(signature: str) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=raw, method="POST", headers={"X-Waitbus-Signature-256": signature})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    assert post(sign("some-other-key", raw))[0] == 401
    assert events() == []
    status, body = post(sign(HMAC_KEY, raw))
    assert (status, json.loads(body)) == (200, {"stored": 1, "duplicates": 0})
    assert json.loads(post(sign(HMAC_KEY, raw))[1]) == {"stored": 0, "duplicates": 1}
    assert [e["fingerprint"] for e in events("prometheus_alert")] == ["33fc5a46a7c95df9"]
