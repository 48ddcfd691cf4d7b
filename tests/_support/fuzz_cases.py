"""Seeded generators of malformed input for the live fuzzers (integration/fuzz).

Everything comes from one `random.Random`, so a failing case is reproduced by its seed
and index. `hub_case` makes the bytes one client sends the hub; `http_case` makes one
raw HTTP request for the listener and the statuses it may be answered with.
"""

from __future__ import annotations

import json
import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path

from waitbus_wire import HEADER_BYTES, MAX_FRAME_BYTES, encode_frame

# -- JSON that is wrong in every way a parser can be surprised by ------------------------------

SUB_KEYS = ("proto", "filters", "event_types", "since", "envelope", "where", "op")
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _scalar(rng: random.Random) -> object:
    return rng.choice(
        [
            None,
            True,
            0,
            1,
            -1,
            2**64,
            1.5,
            "",
            "*",
            "owner/repo",
            "diffs",
            "stats",
            ULID,
            "\ud800",  # written as a "\ud800" escape: decodes to text that has no UTF-8 form
            "x" * rng.randint(0, 300),
        ]
    )


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return _scalar(rng)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice((*SUB_KEYS, "k", "")): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def deep(depth: int, opener: bytes = b"[") -> bytes:
    closer = {b"[": b"]", b'{"a":': b"}"}[opener]
    return opener * depth + b"1" * (opener != b"[") + closer * depth


def garbage_json(rng: random.Random, keys: tuple[str, ...], budget: int) -> bytes:
    """One JSON-ish document at most about `budget` bytes, wrong in one chosen way."""
    kind = rng.randrange(9)
    key = rng.choice((*keys, "unknown")).encode()
    if kind == 0:  # nested far past any parser's stack
        d = rng.randint(500, max(501, budget // 2 - 20))
        return b'{"%s":%s}' % (key, deep(d, rng.choice([b"[", b'{"a":'])))
    if kind == 1:  # a huge string
        return b'{"%s":"%s"}' % (key, b"x" * rng.randint(1, budget - 20))
    if kind == 2:  # invalid UTF-8 inside a string, or as the whole document
        junk = rng.randbytes(rng.randint(1, 16)).replace(b'"', b"").replace(b"\\", b"") or b"\xff"
        return b'{"%s":"%s"}' % (key, junk) if rng.random() < 0.7 else junk
    if kind == 3:  # wrong types for known keys
        return json.dumps({k: _value(rng) for k in rng.sample(keys, rng.randint(1, len(keys)))}).encode()
    if kind == 4:  # not an object at all
        return json.dumps(_value(rng)).encode()
    if kind == 5:  # numbers no type can hold
        return b'{"%s":%s}' % (key, rng.choice([b"1e400", b"-1e400", b"9" * rng.randint(20, 5000), b"NaN", b"1.0"]))
    if kind == 6:  # cut short
        whole = json.dumps({k: _value(rng) for k in keys[:3]}).encode()
        return whole[: rng.randint(0, len(whole))]
    if kind == 7:  # duplicate keys, control characters, BOM
        return rng.choice([b'{"proto":1,"proto":"1"}', b'{"filters":["a/b\x00"]}', b"\xef\xbb\xbf{}", b'{"a":1,}'])
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))  # noise


# -- the hub ----------------------------------------------------------------------------------------


def _valid_subscribe(rng: random.Random) -> bytes:
    sub: dict[str, object] = {}
    if rng.random() < 0.5:
        sub["filters"] = rng.sample(["*", "acme/*", "acme/app", "x.y/z_1"], rng.randint(1, 3))
    if rng.random() < 0.3:
        sub["where"] = [
            [rng.choice(['source="ci"', "fields.n=1", "fields.a.0=[1,2]", "source=" + "[" * 40 + "]" * 40])]
        ]
    if rng.random() < 0.2:
        sub["op"] = "stats"
    if rng.random() < 0.1:
        sub["proto"] = rng.choice([0, 2, 99])
    return json.dumps(sub).encode()


def hub_case(rng: random.Random) -> bytes:
    """The bytes one client sends before it shuts its side down."""
    kind = rng.randrange(8)
    if kind == 0:  # a length the reader must refuse from the header alone
        n = rng.choice([0, MAX_FRAME_BYTES + 1, 2**32 - 1, rng.randint(MAX_FRAME_BYTES + 1, 2**32 - 1)])
        return struct.pack(">I", n) + rng.randbytes(rng.randint(0, 64))
    if kind == 1:  # a frame cut anywhere, header included
        frame = encode_frame(_valid_subscribe(rng))
        return frame[: rng.randint(0, len(frame) - 1)]
    if kind == 2:  # a length that disagrees with the body: too short (cuts the JSON) or too long
        body = _valid_subscribe(rng)
        n = rng.randint(1, len(body) - 1) if rng.random() < 0.5 else len(body) + rng.randint(1, 100)
        return struct.pack(">I", n) + body
    if kind == 3:  # a good subscribe followed by anything: the rest must be ignored
        return encode_frame(_valid_subscribe(rng)) + rng.choice([b"\x00\x00\x00\x00", b"garbage", rng.randbytes(8)])
    if kind == 4:  # valid, for contrast (acks, version rejects, stats)
        return encode_frame(_valid_subscribe(rng))
    if kind == 5:  # `where` specs that are hostile but fit the frame
        spec = rng.choice(
            [
                "fields.a=" + "[" * rng.randint(33, 2000) + "]" * 2000,
                "fields.a=" + "[" * 1000 + "1" + "]" * 1000,
                "k=" + "x" * 5000,
                "bad key=1",
                "=1",
                "k=\udcff",
                "fields.x=" + json.dumps("y" * 4000),
            ]
        )
        where = [[spec]] * rng.randint(1, 70) if rng.random() < 0.2 else [[spec]]
        return encode_frame(json.dumps({"where": where}).encode()[:MAX_FRAME_BYTES])
    # a frame of garbage JSON, sized anywhere up to the cap
    budget = rng.choice([64, 1024, MAX_FRAME_BYTES - 64])
    body = garbage_json(rng, SUB_KEYS, budget)[:MAX_FRAME_BYTES] or b"?"
    return encode_frame(body)


def first_frame(data: bytes) -> bytes | None:
    """The body of the first frame in `data`, None if it never completes (a torn frame
    then EOF); FrameError-like lengths return b"" (the reader must refuse them)."""
    if len(data) < HEADER_BYTES:
        return None
    (n,) = struct.unpack_from(">I", data)
    if n == 0 or n > MAX_FRAME_BYTES:
        return b""
    if len(data) < HEADER_BYTES + n:
        return None
    return data[HEADER_BYTES : HEADER_BYTES + n]


# -- the listener ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpCase:
    """One raw request; `allowed` holds the statuses it may get (None: no response at all
    is also fine, e.g. a body cut short then EOF); `route` says what a 2xx may store."""

    data: bytes
    allowed: frozenset[int]
    route: str = ""
    may_be_silent: bool = False


@dataclass(frozen=True)
class Secrets:
    emit: str
    github: str
    alertmanager: str


def _request(method: str, path: str, headers: dict[str, str], body: bytes, length: str | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if length is None and (body or method == "POST"):
        length = str(len(body))
    if length is not None:
        head.append(f"Content-Length: {length}")
    return "\r\n".join(head).encode("latin-1", "replace") + b"\r\n\r\n" + body


def _sign(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


ROUTES = ("/emit", "/webhook", "/alertmanager", "/watchdog")
EMIT_KEYS = ("source", "event_type", "fields", "payload", "delivery_id", "owner", "repo", "summary")
STORE_OK = frozenset({200, 201, 202, 400})
UNAUTHORIZED = frozenset({401})


def _authorized(rng: random.Random, route: str, body: bytes, s: Secrets) -> dict[str, str]:
    if route == "/emit":
        return {"Authorization": f"Bearer {s.emit}"}
    if route == "/webhook":
        return {
            "X-Hub-Signature-256": _sign(s.github, body),
            "X-GitHub-Event": rng.choice(["workflow_run", "workflow_job", "ping", "push"]),
        }
    return {"Authorization": f"Bearer {s.alertmanager}"}


def _unauthorized(rng: random.Random, route: str, body: bytes, s: Secrets) -> dict[str, str]:
    wrong = rng.choice(["", "Bearer", f"Bearer {s.emit}x", f"Basic {s.alertmanager}", "Bearer \xe9\xff", s.emit])
    if route == "/webhook":
        sig = rng.choice(["", "sha256=", _sign("wrong", body), _sign(s.github, body + b" "), "sha1=" + "0" * 40])
        return {"X-Hub-Signature-256": sig, "X-GitHub-Event": "workflow_run"} if sig else {}
    # the right secret on the wrong route is wrong too
    if route == "/emit" and rng.random() < 0.3:
        wrong = f"Bearer {s.alertmanager}"
    return {"Authorization": wrong} if wrong else {}


def _event_body(rng: random.Random) -> bytes:
    if rng.random() < 0.4:
        return garbage_json(rng, EMIT_KEYS, rng.choice([256, 4096, 200_000]))
    event = {"source": rng.choice(["fuzz", "Fuzz", "", "f" * 70]), "event_type": rng.choice(["case", "1x"])}
    for key in rng.sample(EMIT_KEYS[2:], rng.randint(0, 6)):
        event[key] = _value(rng)
    return json.dumps(event).encode()


def http_case(rng: random.Random, s: Secrets) -> HttpCase:
    kind = rng.randrange(10)
    route = rng.choice(ROUTES)
    body = _event_body(rng) if route == "/emit" else garbage_json(rng, ("alerts", "workflow_run", "repository"), 4096)
    if kind == 0:  # lengths the framing rules refuse
        length, allowed = rng.choice(
            [
                ("-1", {400}),
                ("abc", {400}),
                ("0x10", {400}),
                ("1e3", {400}),
                ("\xb2", {400}),  # a superscript two: isdigit() is True, int() refuses it
                (str(10 * 1024 * 1024 + 1), {413}),
                ("9" * 40, {413}),
            ]
        )
        return HttpCase(_request("POST", route, {}, b"", length), frozenset(allowed))
    if kind == 1:  # chunked, two lengths, no length
        data = rng.choice(
            [
                _request("POST", route, {"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n", None),
                _request("POST", route, {"Content-Length": "3"}, b"abc"),  # a second Content-Length
                b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % route.encode(),
            ]
        )
        return HttpCase(data, frozenset({400, 411}))
    if kind == 2:  # a body shorter than its length, then EOF: nobody left to answer
        return HttpCase(
            _request("POST", route, {}, body[: len(body) // 2], str(len(body) + 1)),
            frozenset({400, 401}),
            may_be_silent=True,
        )
    if kind == 3:  # request lines and headers the HTTP parser refuses
        data = rng.choice(
            [
                b"\x00\xff\xfe garbage\r\n\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"GET /healthz HTTP/9.9\r\n\r\n",
                b"GET /\xff\xfe HTTP/1.1\r\nConnection: close\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n",
                b"GET /healthz HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nno colon here\r\nConnection: close\r\n\r\n",
                b"BREW /emit HTTP/1.1\r\nConnection: close\r\n\r\n",
                b"\r\n\r\n",
            ]
        )
        return HttpCase(data, frozenset({200, 400, 404, 405, 414, 431, 501, 505}), may_be_silent=True)
    if kind == 4:  # unknown paths and wrong methods
        method, path = rng.choice(
            [("GET", "/nope"), ("GET", "/emit"), ("DELETE", "/webhook"), ("PUT", "/healthz"), ("GET", "/%00")]
        )
        return HttpCase(_request(method, path, {}, b""), frozenset({404, 405}))
    if kind in (5, 6):  # no or wrong credentials: refused, nothing stored
        return HttpCase(_request("POST", route, _unauthorized(rng, route, body, s), body), UNAUTHORIZED)
    # authenticated garbage: answered, stored only with a 2xx
    return HttpCase(_request("POST", route, _authorized(rng, route, body, s), body), STORE_OK, route=route)


# -- the process under test -------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
