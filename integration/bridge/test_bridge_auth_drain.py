"""Credentials from the secrets file, the CI `--drain` mode with no hub, and servers the
bridge cannot use (no JetStream)."""

from __future__ import annotations

import pytest

PASSWORD_CONF = 'authorization { user: "bridge", password: "s3cret-pw" }'
TOKEN_CONF = 'authorization { token: "t0ken-value" }'


def test_user_and_password_from_the_secrets_file(nats_factory, stack_factory):
    server = nats_factory(PASSWORD_CONF)
    a, b = stack_factory("alpha"), stack_factory("beta")
    a.stage_secret("nats-user", "bridge")
    a.stage_secret("nats-password", "wrong-pw")
    refused = a.run_bridge(server.url, "--source", "agent", "--connect-attempts", "2")
    assert refused.returncode == 2, refused.stderr
    assert "refused the credentials" in refused.stderr
    assert "wrong-pw" not in refused.stderr and "s3cret-pw" not in refused.stderr
    assert "connection attempt" not in refused.stderr  # refused credentials are not retried

    a.stage_secret("nats-password", "s3cret-pw")
    b.stage_secret("nats-user", "bridge")
    b.stage_secret("nats-password", "s3cret-pw")
    b.start_bridge(server.url)
    a.start_bridge(server.url, "--source", "agent")
    a.emit(3, "secret")
    assert b.wait_remote("secret", 3) == [0, 1, 2]
    assert "user 'bridge' with a password" in a.log_text()
    assert "s3cret-pw" not in a.log_text() + b.log_text()


def test_token_from_the_secrets_file(nats_factory, stack_factory):
    server = nats_factory(TOKEN_CONF)
    a = stack_factory("alpha", hub=False)
    none = a.run_bridge(server.url, "--source", "agent", "--drain", "--connect-attempts", "1")
    assert none.returncode == 2 and "refused the credentials" in none.stderr
    a.stage_secret("nats-token", "t0ken-value")
    a.emit(2, "tok")
    done = a.run_bridge(server.url, "--source", "agent", "--drain")
    assert done.returncode == 0, done.stderr
    assert "drained: published 2 event(s)" in done.stderr
    assert server.stream_messages(token="t0ken-value") == 2


def test_drain_with_no_hub_publishes_what_is_pending_once(nats_server, stack_factory):
    """The CI image case on this venv: no hub anywhere on the publishing side."""
    ci, dev = stack_factory("ci-runner", hub=False), stack_factory("laptop")
    dev.start_bridge(nats_server.url)
    ci.emit(5, "ci")  # before the bridge ever ran: a first drain starts at the log's start
    first = ci.run_bridge(nats_server.url, "--source", "agent", "--drain")
    assert first.returncode == 0, first.stderr
    assert "drained: published 5 event(s) (0 already in the stream)" in first.stderr
    assert dev.wait_remote("ci", 5) == list(range(5))
    again = ci.run_bridge(nats_server.url, "--source", "agent", "--drain")
    assert "drained: published 0 event(s)" in again.stderr  # the cursor moved
    ci.emit(2, "ci2")
    third = ci.run_bridge(nats_server.url, "--source", "agent", "--drain")
    assert "drained: published 2 event(s)" in third.stderr
    assert dev.wait_remote("ci2", 2) == [0, 1]
    assert nats_server.stream_messages() == 7


def test_live_outbound_without_a_hub_says_to_use_drain(nats_server, stack_factory):
    a = stack_factory("alpha", hub=False)
    done = a.run_bridge(nats_server.url, "--source", "agent")
    assert done.returncode == 2
    assert "--drain" in done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drain"], "--drain publishes what matches a predicate"),
        (["--match", "fields.status=done"], "strings need double quotes"),
        (["--all", "--source", "x"], "do not combine"),
        (["--no-inbound"], "nothing to do"),
        (["--stream", "a.b"], "bad --stream"),
    ],
)
def test_bad_configuration_exits_2_before_connecting(stack_factory, args, message):
    a = stack_factory("alpha", hub=False)
    done = a.run_bridge("nats://127.0.0.1:1", *args)
    assert done.returncode == 2
    assert message in done.stderr and "connection attempt" not in done.stderr


def test_a_server_without_jetstream_is_a_clear_error(nats_factory, stack_factory):
    server = nats_factory(jetstream=False)
    a = stack_factory("alpha", hub=False)
    done = a.run_bridge(server.url, "--source", "agent", "--drain")
    assert done.returncode == 2
    assert "no JetStream answers" in done.stderr and "Traceback" not in done.stderr
