"""GitHub Actions source for waitbus: HMAC-verified `POST /webhook` for workflow_run /
workflow_job deliveries, the ETag poller (`waitbus etag-poll run`) with stall
detection, the PR monitor (`waitbus pr-monitor tick`), and what a run means for a
waiter (`is_failure` and the `github.sha:<prefix>` predicate language). See README.md.

`SOURCE` is what the `waitbus.sources.v1` entry point names; `etag_poll_main` and
`pr_monitor_main` back the CLI doors. Importing this module stays cheap: the poller
and the PR monitor (and stamina) load only when their door is used.
"""

from __future__ import annotations

from waitbus import Route, SourceSpec

from ._errors import GitHubError
from ._fields import JOB, RUN, STALLED, job_fields, run_fields, state_word, summarize, transition_key
from ._verdict import SHA_EVALUATOR, is_failed_run, sha_test
from ._webhook import SECRET_NAME, SIGNATURE_HEADER, handle_webhook, sign, verify_signature


def etag_poll_main(argv: list[str]) -> int:
    """`waitbus etag-poll run ARGS`: one poll pass; 0 ok, 1 some repos failed, 2 bad config."""
    from ._poller import etag_poll_main as run

    return run(argv)


def pr_monitor_main(argv: list[str]) -> int:
    """`waitbus pr-monitor tick ARGS`: print per-PR transitions since the last tick."""
    from ._prmonitor import pr_monitor_main as run

    return run(argv)


def run_source(argv: list[str]) -> int:
    """`waitbus source github etag-poll|pr-monitor ARGS` (the same two doors)."""
    doors = {"etag-poll": etag_poll_main, "pr-monitor": pr_monitor_main}
    if not argv or argv[0] not in doors:
        import sys

        print(
            "usage: waitbus source github {etag-poll,pr-monitor} ARGS  (the webhook is served by "
            "`waitbus listener serve`)",
            file=sys.stderr,
        )
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return doors[argv[0]](argv[1:])


SOURCE = SourceSpec(
    name="github",
    event_types=(RUN, JOB, STALLED),
    summary="{fields.workflow} {fields.status}: {fields.conclusion} ({owner}/{repo}@{fields.head_sha})",
    entity_key=("fields.job_id", "fields.run_id"),
    description="GitHub Actions runs and jobs: signed webhooks, an ETag poller, stall detection, per-PR state.",
    runner=run_source,
    evaluators={SHA_EVALUATOR: sha_test},
    is_failure=is_failed_run,
    routes=(
        Route(
            "POST",
            "/webhook",
            handle_webhook,
            summary="GitHub workflow_run / workflow_job deliveries (X-Hub-Signature-256 with github-webhook-secret)",
            auth_headers=(SIGNATURE_HEADER,),
        ),
    ),
)

__all__ = [
    "GitHubError",
    "JOB",
    "RUN",
    "SECRET_NAME",
    "SHA_EVALUATOR",
    "SOURCE",
    "STALLED",
    "etag_poll_main",
    "handle_webhook",
    "is_failed_run",
    "job_fields",
    "pr_monitor_main",
    "run_fields",
    "run_source",
    "sha_test",
    "sign",
    "state_word",
    "summarize",
    "transition_key",
    "verify_signature",
]
