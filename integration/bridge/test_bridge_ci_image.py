"""A CI image with only waitbus-sources-pytest and waitbus-bridge-nats installed (a fresh
venv from wheels built from this checkout; third-party wheels from `pip download`) runs a
real pytest session and `waitbus-bridge-nats --drain`; a `waitbus wait` on a developer's
stack, bridged to the same nats-server, unblocks on that session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
import waitbus_src_pytest_packaging as pk

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CI_DISTS = ("waitbus-wire", "waitbus-store", "waitbus-sdk", "waitbus-sources-pytest", "waitbus-bridge-nats")


def test_a_ci_image_publishes_a_pytest_session_that_unblocks_a_wait_elsewhere(tmp_path, nats_server, stack_factory):
    wheels = pk.build_wheels(tmp_path / "wheels", CI_DISTS)
    third = pk._download(tmp_path / "third-party", pk.third_party_of(CI_DISTS))
    python = pk._venv(tmp_path / "venv", [wheels, third], "waitbus-sources-pytest", "waitbus-bridge-nats")
    installed = pk._installed(python)
    assert not installed & pk.FORBIDDEN, sorted(installed & pk.FORBIDDEN)
    assert {d for d in installed if d.startswith("waitbus")} == set(CI_DISTS)
    check = pk._run([str(python), "-m", "pip", "check"], timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    dev = stack_factory("laptop")
    dev.start_bridge(nats_server.url)
    waiter = dev.start_wait("--source", "pytest", "--match", 'fields.outcome="failed"', "--timeout", "60s")
    runtime = tempfile.mkdtemp(prefix="wbci-")
    try:
        proj = pk._project(tmp_path)
        env = {
            **pk._env(),
            "WAITBUS_STATE_DIR": str(tmp_path / "ci-state"),
            "WAITBUS_RUNTIME_DIR": runtime,
            "WAITBUS_NO_AUTOSTART": "1",
        }
        ran = subprocess.run(
            [str(python), "-m", "pytest", "-q"], cwd=proj, env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 1, ran.stdout + ran.stderr
        script = python.with_name("waitbus-bridge-nats")
        bridge = subprocess.run(
            [str(script), "--url", nats_server.url, "--host", "ci-runner", "--source", "pytest", "--drain"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bridge.returncode == 0, bridge.stderr
        assert "drained: published 1 event(s)" in bridge.stderr
        frame = dev.finish_wait(waiter)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    assert frame["event_type"] == "pytest_session"
    assert (frame["fields"]["passed"], frame["fields"]["failed"]) == (3, 1)
    assert frame["fields"]["remote"]["host"] == "ci-runner"
