"""A loopback HTTP server that STANDS IN for the GitHub REST API (there is no GitHub
here). It implements what the ETag poller relies on, as GitHub documents it:

- GET /repos/{owner}/{repo}/actions/runs?per_page=N -> {"total_count", "workflow_runs"}
- GET /repos/{owner}/{repo}/actions/runs/{run_id} -> the run, or 404
- GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs -> {"total_count", "jobs"}
- conditional requests: every 200 carries `ETag: W/"<hash of the body>"`; a request whose
  `If-None-Match` equals the current ETag gets `304 Not Modified` with no body;
- `X-RateLimit-Limit/Remaining/Reset/Used` on every response; `remaining` counts down on
  each 200 (a 304 is free, as on GitHub); at 0 every request gets `403` "API rate limit
  exceeded" with `X-RateLimit-Remaining: 0`;
- injected failures: the first N requests to a path answer `503`;
- a hang: a request to a path listed in `hang` gets no answer until the test removes
  the path (a pass stuck mid-way, while every other path still answers).

Usage: github_api_standin.py CONFIG_JSON REQUEST_LOG. The config file is re-read on each
request (tests rewrite it atomically between poll passes):
    {"repos": {"owner/repo": {"runs": [run, ...], "jobs": {"<run_id>": [job, ...]}}},
     "rate_limit": {"remaining": 5000, "reset": <epoch>}, "fail": {"<path>": N},
     "hang": {"<path>": true}}
Each request is appended to REQUEST_LOG as one JSON line. The chosen port is printed
on stdout as `PORT <n>`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_ROUTE = re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runs(?:/(\d+)(/jobs)?)?$")


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log file says it all
        pass

    def do_GET(self) -> None:
        srv = self.server
        config = json.loads(srv.config_path.read_text())
        url = urlsplit(self.path)
        while url.path in config.get("hang", {}):
            time.sleep(0.05)
            config = json.loads(srv.config_path.read_text())
        status, body = self._route(config, url.path, parse_qs(url.query))
        with srv.lock:
            failures_left = int(config.get("fail", {}).get(url.path, 0)) - srv.failed.get(url.path, 0)
            if failures_left > 0:
                srv.failed[url.path] = srv.failed.get(url.path, 0) + 1
                status, body = 503, {"message": "Service Unavailable (injected)"}
            limit = config.get("rate_limit", {})
            remaining = max(0, int(limit.get("remaining", 5000)) - srv.served)
            reset = int(limit.get("reset", time.time() + 3600))
            data = json.dumps(body, sort_keys=True).encode() if body is not None else b""
            etag = 'W/"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            if status == 200 and remaining == 0:
                status, data = 403, json.dumps({"message": "API rate limit exceeded"}).encode()
            elif status == 200 and self.headers.get("If-None-Match") == etag:
                status, data = 304, b""
            elif status == 200:
                srv.served += 1
                remaining -= 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", str(remaining))
        self.send_header("X-RateLimit-Reset", str(reset))
        self.send_header("X-RateLimit-Used", str(srv.served))
        if status in (200, 304):
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        entry = {
            "path": url.path,
            "query": url.query,
            "if_none_match": self.headers.get("If-None-Match"),
            "authorization": self.headers.get("Authorization"),
            "user_agent": self.headers.get("User-Agent"),
            "status": status,
        }
        with srv.lock, srv.log_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    def _route(self, config: dict[str, Any], path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        m = _ROUTE.match(path)
        repo = config.get("repos", {}).get(f"{m.group(1)}/{m.group(2)}") if m else None
        if m is None or repo is None:
            return 404, {"message": "Not Found"}
        runs = repo.get("runs", [])
        if m.group(3) is None:
            per_page = int(query.get("per_page", ["30"])[0])
            return 200, {"total_count": len(runs), "workflow_runs": runs[:per_page]}
        run = next((r for r in runs if str(r["id"]) == m.group(3)), None)
        if run is None:
            return 404, {"message": "Not Found"}
        if m.group(4):
            jobs = repo.get("jobs", {}).get(m.group(3), [])
            return 200, {"total_count": len(jobs), "jobs": jobs}
        return 200, run


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config_path: Path, log_path: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.config_path, self.log_path = config_path, log_path
        self.lock = threading.Lock()
        self.failed: dict[str, int] = {}
        self.served = 0


def main() -> None:
    server = StandIn(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
