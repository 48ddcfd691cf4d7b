"""Engine event -> docker_container event, for the shapes Docker and podman really send.

The Docker-shaped events follow the Engine API's documented `/events` objects (Docker is
not installable here); the podman-shaped ones are copied from podman 4.3's compatible
service, captured on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from waitbus_sources_docker import ACTIONS, SOURCE, translate
from waitbus_sources_docker._translate import MAX_LABEL_VALUE, MAX_LABELS, split_action

CID = "ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743"


def docker_event(action: str, **attributes: str) -> dict[str, object]:
    attrs = {"image": "nginx:1.27", "name": "web-1", "com.example.team": "infra", **attributes}
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": CID, "Attributes": attrs},
        "scope": "local",
        "time": 1461943101,
        "timeNano": 1461943101381709551,
        # the deprecated duplicates Docker still sends
        "status": action,
        "id": CID,
        "from": "nginx:1.27",
    }


PODMAN_DIE = {
    "status": "die",
    "id": "39d1b50cb014e8a622bd157eea80a40e9dd95084b7da41d6a408e972b317c32e",
    "from": "localhost/waitbus-test:latest",
    "Type": "container",
    "Action": "die",
    "Actor": {
        "ID": "39d1b50cb014e8a622bd157eea80a40e9dd95084b7da41d6a408e972b317c32e",
        "Attributes": {
            "containerExitCode": "3",
            "exitCode": "3",
            "image": "localhost/waitbus-test:latest",
            "name": "x-exit3",
            "podId": "",
        },
    },
    "scope": "local",
    "time": 1795654551,
    "timeNano": 1795654551075918601,
}


def test_die_carries_the_exit_code_and_the_readme_summary() -> None:
    ev = translate(docker_event("die", exitCode="137", execDuration="4"))
    assert ev is not None
    assert ev.summary == "docker die web-1 (exit 137)"
    assert ev.fields == {
        "action": "die",
        "container_id": CID,
        "container": "web-1",
        "image": "nginx:1.27",
        "exit_code": 137,
        "signal": None,
        "health": None,
        "labels": {"com.example.team": "infra"},
        "time_ns": 1461943101381709551,
    }
    assert ev.delivery_id == f"{CID}:die:1461943101381709551"


def test_podman_die_as_captured() -> None:
    ev = translate(PODMAN_DIE)
    assert ev is not None
    assert ev.fields["exit_code"] == 3
    assert ev.fields["container"] == "x-exit3"
    assert ev.fields["labels"] == {}, "podId/containerExitCode are engine attributes, not labels"
    assert ev.summary == "docker die x-exit3 (exit 3)"


def test_kill_signal_from_docker_and_none_from_podman() -> None:
    ev = translate(docker_event("kill", signal="15"))
    assert ev is not None and ev.fields["signal"] == 15 and ev.summary == "docker kill web-1 (signal 15)"
    named = translate(docker_event("kill", signal="SIGKILL"))
    assert named is not None and named.fields["signal"] == 9
    podman_kill = {**PODMAN_DIE, "Action": "kill", "status": "kill"}
    ev = translate(podman_kill)
    assert ev is not None and ev.fields["signal"] is None and ev.fields["exit_code"] is None
    assert ev.summary == "docker kill x-exit3"


def test_health_status_from_the_action_wins_over_a_looked_up_one() -> None:
    ev = translate(docker_event("health_status: unhealthy"), health="healthy")
    assert ev is not None
    assert (ev.fields["action"], ev.fields["health"]) == ("health_status", "unhealthy")
    assert ev.summary == "docker health_status web-1 (unhealthy)"
    assert split_action({"Action": "health_status: healthy"}) == ("health_status", "healthy")


def test_bare_podman_health_status_takes_the_looked_up_status() -> None:
    raw = {**PODMAN_DIE, "Action": "health_status", "status": "health_status"}
    assert translate(raw).fields["health"] is None  # type: ignore[union-attr]
    ev = translate(raw, health="healthy")
    assert ev is not None and ev.fields["health"] == "healthy"
    with_attr = {**raw, "Actor": {"ID": CID, "Attributes": {"name": "x", "health_status": "unhealthy"}}}
    assert translate(with_attr, health="healthy").fields["health"] == "unhealthy"  # type: ignore[union-attr]


@pytest.mark.parametrize("action", ["start", "stop", "oom"])
def test_other_reported_actions(action: str) -> None:
    ev = translate(docker_event(action))
    assert ev is not None
    assert ev.summary == f"docker {action} web-1"
    assert ev.fields["exit_code"] is None and ev.fields["signal"] is None and ev.fields["health"] is None


@pytest.mark.parametrize(
    "action", ["create", "init", "cleanup", "remove", "destroy", "exec_start: sh -c true", "exec_died", "attach"]
)
def test_noise_is_ignored(action: str) -> None:
    assert translate(docker_event(action)) is None


def test_other_object_types_and_unkeyable_events_are_ignored() -> None:
    assert translate({**docker_event("start"), "Type": "image"}) is None
    no_time = {k: v for k, v in docker_event("start").items() if k not in {"time", "timeNano"}}
    assert translate(no_time) is None
    no_id = {**docker_event("start"), "Actor": {"Attributes": {}}, "id": None}
    assert translate(no_id) is None
    # old engines: only `time` in seconds, only `status`
    old = {"status": "die", "id": CID, "from": "busybox", "time": 1461943101}
    ev = translate(old)
    assert ev is not None and ev.time_ns == 1461943101_000_000_000 and ev.fields["image"] == "busybox"
    assert ev.fields["container"] == CID[:12]


def test_labels_are_bounded() -> None:
    many = {f"label.{i:03d}": "v" * 1000 for i in range(100)}
    ev = translate(docker_event("start", **many))
    assert ev is not None
    labels = ev.fields["labels"]
    assert len(labels) == MAX_LABELS
    assert all(len(v) == MAX_LABEL_VALUE for k, v in labels.items() if k.startswith("label."))
    assert len(json.dumps(ev.fields)) < 48 * 1024


def test_same_engine_event_same_delivery_id_different_action_or_time_differ() -> None:
    a = translate(docker_event("die", exitCode="1"))
    b = translate(docker_event("die", exitCode="1"))
    c = translate(docker_event("stop"))
    later = translate({**docker_event("die", exitCode="1"), "timeNano": 1461943101381709552})
    assert a is not None and b is not None and c is not None and later is not None
    assert a.delivery_id == b.delivery_id
    assert len({a.delivery_id, c.delivery_id, later.delivery_id}) == 3


def test_source_spec() -> None:
    from waitbus._sources import installed_sources

    assert installed_sources()["docker"] is SOURCE
    assert SOURCE.event_types == ("docker_container",)
    assert SOURCE.entity_key == ("fields.container_id",)
    assert SOURCE.runner is not None
    assert set(ACTIONS) == {"start", "die", "stop", "kill", "oom", "health_status"}


def test_importing_the_source_does_not_load_the_docker_sdk() -> None:
    # `waitbus source list` loads every source's entry point; docker+requests cost ~100 ms.
    probe = (
        "import sys, waitbus_sources_docker as m; m.SOURCE\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in {'docker', 'requests', 'urllib3'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
