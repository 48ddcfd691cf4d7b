"""A CI image with only waitbus-sources-pytest and waitbus-bridge-nats installed (the README's
CI-image command, run verbatim in a fresh venv from a fresh `make dist`: user path (c) of
integration/dist/test_install_paths.py) runs a real pytest session and
`waitbus-bridge-nats --drain`; a `waitbus wait` on a developer's stack, bridged to the same
nats-server, unblocks on that session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

from tests._support import dist as wd
from tests._support import pytest_source as pk

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CI_DISTS = ("waitbus-wire", "waitbus-store", "waitbus-sdk", "waitbus-sources-pytest", "waitbus-bridge-nats")
CI_IMAGE = "pip install --find-links dist waitbus-sources-pytest waitbus-bridge-nats"  # the README's, verbatim


def test_a_ci_image_publishes_a_pytest_session_that_unblocks_a_wait_elsewhere(
    tmp_path, nats_server, stack_factory, dist_dir, dist_caches
):
    assert CI_IMAGE in (wd.REPO / "README.md").read_text()
    home = wd.Home(tmp_path / "ci-user", dist_caches)
    venv_bin = wd.new_venv(home.root / "venv", home.env())
    work = wd.fresh_dist_link(tmp_path / "work", dist_dir)
    done = wd.run(CI_IMAGE, home.env(venv_bin), cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    python = venv_bin / "python"
    installed = set(wd.installed(python, home.env(venv_bin)))
    assert not installed & pk.FORBIDDEN, sorted(installed & pk.FORBIDDEN)
    assert wd.assert_ours(wd.installed(python, home.env(venv_bin)), dist_dir) == set(CI_DISTS)
    check = pk.run_clean([str(python), "-m", "pip", "check"], timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    dev = stack_factory("laptop")
    dev.start_bridge(nats_server.url)
    waiter = dev.start_wait("--source", "pytest", "--match", 'fields.outcome="failed"', "--timeout", "60s")
    runtime = tempfile.mkdtemp(prefix="wbci-")
    try:
        proj = pk.tiny_project(tmp_path)
        env = {
            **pk.install_env(),
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
