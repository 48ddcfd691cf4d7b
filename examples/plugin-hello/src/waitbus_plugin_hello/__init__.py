"""waitbus-plugin-hello: the smallest complete waitbus source.

- `waitbus source hello --name X` runs `main(["--name", "X"])`: one `hello` event.
- `POST /hello` on `waitbus listener serve`, with `Authorization: Bearer <hello-token>`
  (staged with `waitbus install-credentials hello-token`) and a body `{"name": "X"}`:
  one `hello` event, deduplicated by the optional `X-Hello-Delivery` header.
"""

from __future__ import annotations

import argparse
import hmac
import json

from waitbus import HttpRequest, HttpResponse, Route, SourceSpec, emit

SECRET = "hello-token"  # noqa: S105 - the name of a secret, not its value


def _reply(status: int, obj: object) -> HttpResponse:
    return HttpResponse(status, json.dumps(obj).encode() + b"\n")


def main(argv: list[str]) -> int:
    """The runner: `waitbus source hello --name X`."""
    parser = argparse.ArgumentParser(prog="waitbus source hello", description="Emit one hello event.")
    parser.add_argument("--name", required=True, help="Who says hello.")
    args = parser.parse_args(argv)
    result = emit("hello", "hello", fields={"name": args.name}, summary=f"hello from {args.name}")
    print(result.event_id)
    return 0


def handle_hello(req: HttpRequest) -> HttpResponse:
    """POST /hello. Authenticate first; nothing is parsed or stored before that."""
    token = req.secrets.get(SECRET)
    if not token:
        return _reply(503, {"error": f"no {SECRET} staged: waitbus install-credentials {SECRET}"})
    scheme, _, given = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _reply(401, {"error": "missing or wrong bearer token"})
    try:
        body = json.loads(req.body)
        name = body["name"]
    except (ValueError, TypeError, KeyError):
        return _reply(400, {"error": 'the body must be {"name": "..."}'})
    if not isinstance(name, str) or not name:
        return _reply(400, {"error": "name must be a non-empty string"})
    result = emit(
        "hello",
        "hello",
        fields={"name": name},
        summary=f"hello from {name}",
        delivery_id=req.headers.get("x-hello-delivery") or None,
    )
    return _reply(201 if result.inserted else 200, {"event_id": result.event_id, "inserted": result.inserted})


SOURCE = SourceSpec(
    name="hello",
    event_types=("hello",),
    summary="hello from {fields.name}",
    entity_key=("fields.name",),
    description="Example plugin: `waitbus source hello --name X`, or POST /hello with a bearer hello-token.",
    runner=main,
    routes=(Route("POST", "/hello", handle_hello, summary='{"name": "..."} with Authorization: Bearer <hello-token>'),),
)
