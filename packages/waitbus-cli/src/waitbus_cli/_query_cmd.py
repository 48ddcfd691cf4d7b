"""`waitbus events query` (read-only SQL on the log) and `waitbus events analyze`
(DuckDB over a copy of the log, from the optional `analyze` extra)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from . import _exit

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    from waitbus_store import Reader

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT = "30s"
# The memory a query may take: SQLite's own heap (sorts, groups, CTEs), one value
# (randomblob, group_concat; a stored payload is at most 4 MiB) and the rows kept for
# printing. A query past one of them stops with exit 2, like any refused SQL.
HEAP_LIMIT = 256 * 1024 * 1024
VALUE_LIMIT = 16 * 1024 * 1024
RESULT_LIMIT = 64 * 1024 * 1024
DUCKDB_HINT = "DuckDB is not installed: pip install 'waitbus-store[analyze]'"

# -- the read-only guard ---------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # word (upper-cased), punct, semi, other
    text: str
    start: int
    end: int


def _tokens(sql: str) -> list[_Token]:
    """SQLite's lexical rules, enough to find keywords and statement ends: strings,
    quoted names ("x", `x`, [x]) and comments never count as keywords or `;`."""
    out: list[_Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and sql.startswith(close * 2, j):
                        j += 2  # a doubled quote is an escaped one
                        continue
                    break
                j += 1
            out.append(_Token("other", sql[i : j + 1], i, j + 1))
            i = j + 1
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            out.append(_Token("word", sql[i:j].upper(), i, j))
            i = j
        else:
            kind = "semi" if ch == ";" else "punct" if ch in "()," else "other"
            out.append(_Token(kind, ch, i, i + 1))
            i += 1
    return out


def _skip_group(toks: Sequence[_Token], i: int) -> int:
    """Index after the parenthesised group opening at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == "(":
            depth += 1
        elif toks[j].text == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(toks)


def _main_verb(toks: Sequence[_Token]) -> str:
    """The statement a WITH clause leads to: skip each `name [(cols)] AS [NOT]
    [MATERIALIZED] (...)`, separated by commas (SQLite puts no DML inside a CTE)."""
    i = 1
    if i < len(toks) and toks[i].text == "RECURSIVE":
        i += 1
    while i < len(toks):
        while i < len(toks) and toks[i].text != "AS":  # the name and its column list
            i = _skip_group(toks, i) if toks[i].text == "(" else i + 1
        i += 1
        while i < len(toks) and toks[i].text in ("NOT", "MATERIALIZED"):
            i += 1
        if i >= len(toks) or toks[i].text != "(":
            return ""
        i = _skip_group(toks, i)
        if i < len(toks) and toks[i].text == ",":
            i += 1
            continue
        return toks[i].text if i < len(toks) else ""
    return ""


def check_select(sql: str) -> str:
    """The one SELECT/WITH statement in `sql` (comments and `;` trimmed), or
    ValueError saying why it is refused."""
    import sqlite3

    if not sqlite3.complete_statement(sql + "\n;"):
        raise ValueError("the SQL is incomplete: an unterminated string, quoted name or comment")
    statements: list[list[_Token]] = [[]]
    for tok in _tokens(sql):
        if tok.kind == "semi":
            statements.append([])
        else:
            statements[-1].append(tok)
    statements = [s for s in statements if s]
    if not statements:
        raise ValueError("no SQL given: pass one SELECT statement")
    if len(statements) > 1:
        raise ValueError(f"{len(statements)} statements given; only one SELECT (or WITH ... SELECT) is allowed")
    toks = statements[0]
    verb = toks[0].text
    if verb == "WITH":
        verb = _main_verb(toks) or "WITH"
        if verb not in ("SELECT", "VALUES"):
            raise ValueError(f"a WITH clause may only lead to SELECT here, not {verb}; events query is read-only")
    elif verb not in ("SELECT", "VALUES"):
        raise ValueError(f"only SELECT or WITH queries are allowed, not {verb}; events query is read-only")
    return sql[toks[0].start : toks[-1].end]


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    """Belt and braces under the tokenizer: SQLite itself refuses anything but
    reads (no PRAGMA, ATTACH, writes, schema changes or transactions)."""
    import sqlite3

    allowed = (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE)
    return sqlite3.SQLITE_OK if action in allowed else sqlite3.SQLITE_DENY


# -- events query ----------------------------------------------------------------


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | bytes) else 16


class _TooBig(Exception):
    pass


def _fetch(cur: sqlite3.Cursor) -> list[Any]:
    """The rows, refusing a result that would not fit in RESULT_LIMIT bytes."""
    rows: list[Any] = []
    total = 0
    for row in cur:  # one at a time: a batch of big values could itself be too much
        total += sum(_size(v) for v in row)
        if total > RESULT_LIMIT:
            raise _TooBig
        rows.append(row)
    return rows


def query(sql: str, *, limit: int, as_json: bool, timeout: float) -> int:
    import signal
    import sqlite3
    import time

    from ._entities import open_log
    from ._errors import CliError
    from ._render import dumps, fail, table

    try:
        statement = check_select(sql)
        reader = open_log(missing_ok=False)
        assert reader is not None
    except CliError as exc:
        return fail("events query", exc, exc.code)
    except ValueError as exc:
        return fail("events query", exc, _exit.USAGE)
    conn = reader.connection  # the user's own SQL: the one query outside waitbus-store
    stop: list[bool] = [False]
    deadline = time.monotonic() + timeout

    def on_sigint(signum: int, frame: object) -> None:
        stop[0] = True  # SQLite checks this between VM steps (progress handler)

    def halt() -> int:
        # Ending the statement ends its read transaction: emitters never wait on a
        # query, but a pinned snapshot keeps the WAL from being checkpointed.
        return int(stop[0] or time.monotonic() > deadline)

    old = signal.signal(signal.SIGINT, on_sigint)
    conn.set_progress_handler(halt, 10_000)
    conn.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT}")  # this process runs only this query
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)
    conn.set_authorizer(_authorize)
    try:
        # A newline before ")" so a trailing `-- comment` cannot swallow it.
        cur = conn.execute(f"SELECT * FROM (\n{statement}\n) LIMIT ?", (limit + 1,))
        columns = [d[0] for d in cur.description or ()]
        rows = _fetch(cur)
    except _TooBig:
        return fail(
            "events query",
            f"the result is over {RESULT_LIMIT >> 20} MiB; select fewer columns or rows (--limit)",
            _exit.USAGE,
        )
    except sqlite3.Error as exc:
        if stop[0]:
            return _exit.INTERRUPTED
        if time.monotonic() > deadline:
            return fail(
                "events query",
                f"stopped after {timeout:g}s (--timeout); narrow the query, or raise --timeout",
                _exit.TIMEOUT,
            )
        if type(exc) is sqlite3.DatabaseError:  # SQLITE_CORRUPT / NOTADB: a damaged page
            from waitbus_store import explain

            return fail("events query", explain(exc, reader.path), _exit.USAGE)
        return fail("events query", f"{exc}{_hint(str(exc))}", _exit.USAGE)
    finally:
        signal.signal(signal.SIGINT, old)
        conn.close()
    if len(rows) > limit:
        rows = rows[:limit]
        print(f"waitbus events query: showing the first {limit} rows; raise --limit for more", file=sys.stderr)
    if as_json:
        print(dumps([dict(zip(columns, r, strict=True)) for r in rows]))
    else:
        print(table(columns, rows))
    return _exit.OK


def _hint(message: str) -> str:
    if "not authorized" in message:
        return " (only reads of tables are allowed)"
    if "too big" in message:
        return f" (one value may be at most {VALUE_LIMIT >> 20} MiB)"
    if "out of memory" in message:
        return f" (a query may use at most {HEAP_LIMIT >> 20} MiB; narrow it)"
    return ""


# -- events analyze --------------------------------------------------------------

_DUCK_COLUMNS = {
    "seq": "BIGINT",
    "event_id": "VARCHAR",
    "source": "VARCHAR",
    "event_type": "VARCHAR",
    "owner": "VARCHAR",
    "repo": "VARCHAR",
    "received_at": "BIGINT",
    "delivery_id": "VARCHAR",
    "summary": "VARCHAR",
    "fields": "JSON",
    "entity": "VARCHAR",
    "failed": "BOOLEAN",
}
_REPORTS = {
    "by_type": "SELECT source, event_type, count(*) AS events, date_trunc('second', min(ts)) AS first_utc, "
    "date_trunc('second', max(ts)) AS last_utc FROM events GROUP BY ALL ORDER BY events DESC, source, event_type",
    "per_hour": "SELECT date_trunc('hour', ts) AS hour_utc, count(*) AS events, count(*) FILTER (failed) AS failures "
    "FROM events WHERE received_at >= $day_ago GROUP BY ALL ORDER BY hour_utc",
    "top_failing": "SELECT entity, count(*) AS failures, date_trunc('second', max(ts)) AS last_failure_utc, "
    "arg_max(summary, seq) AS last_summary FROM events WHERE failed "
    "GROUP BY ALL ORDER BY failures DESC, last_failure_utc DESC LIMIT 10",
}
_TITLES = {
    "by_type": "Events per source/event_type",
    "per_hour": "Events per hour, last 24 h (UTC)",
    "top_failing": "Top failing entities",
}


def _load(duck: Any, reader: Reader, report: Any) -> int:
    """Copy the log into a DuckDB table `events` (no payloads) plus `ts`, `entity`
    and `failed`. Offline: DuckDB's sqlite extension would need a download, so rows
    go through newline-delimited JSON files (the built-in json reader), a chunk at a time."""
    import tempfile
    from itertools import islice
    from pathlib import Path

    import msgspec

    from waitbus import entity_keys
    from waitbus_store import entity_of, looks_failed

    keys = entity_keys()
    enc = msgspec.json.Encoder()
    names = list(_DUCK_COLUMNS)
    cols = ", ".join(f"'{k}': '{v}'" for k, v in _DUCK_COLUMNS.items())
    duck.execute(f"CREATE TABLE events ({', '.join(f'{k} {v}' for k, v in _DUCK_COLUMNS.items())}, ts TIMESTAMP)")
    total = reader.count()
    done = 0
    rows = reader.scan(batch=20_000)
    with tempfile.TemporaryDirectory(prefix="waitbus-analyze-") as tmp:
        chunk = Path(tmp) / "chunk.jsonl"
        while batch := list(islice(rows, 20_000)):
            with chunk.open("wb") as out:
                for seq, f in batch:
                    kind, name = entity_of(f, keys)
                    entity, failed = f"{f.source} {kind} {name}", looks_failed(f.source, f.fields)
                    row = (seq, f.event_id, f.source, f.event_type, f.owner, f.repo, f.received_at, f.delivery_id)
                    values = (*row, f.summary, f.fields, entity, failed)
                    out.write(enc.encode(dict(zip(names, values, strict=True))) + b"\n")
            duck.execute(
                "INSERT INTO events SELECT *, make_timestamp(received_at // 1000) "
                f"FROM read_json(?, format='newline_delimited', columns={{{cols}}})",
                [str(chunk)],
            )
            done += len(batch)
            if report:
                report(done, total)
    return done


def analyze(sql: str | None, *, as_json: bool, show_progress: bool) -> int:
    import time

    from waitbus_store import StoreError

    from ._entities import open_log
    from ._errors import CliError
    from ._render import dumps, fail, progress, table

    try:
        import duckdb
    except ImportError:
        return fail("events analyze", DUCKDB_HINT, _exit.USAGE)
    try:
        reader = open_log(missing_ok=False)
        assert reader is not None
    except CliError as exc:
        return fail("events analyze", exc, exc.code)
    # Never download an extension: waitbus makes no outbound calls.
    duck = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    try:
        _load(duck, reader, progress("analyze: loading", forced=show_progress, every=20_000))
        reader.close()
        # The copy is loaded: from here on no query may read or write any file.
        duck.execute("SET enable_external_access = false")
        duck.execute("SET lock_configuration = true")
        queries = {"result": sql} if sql else _REPORTS
        results: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for name, text in queries.items():
            params = {"day_ago": time.time_ns() - 86_400 * 10**9} if "$day_ago" in text else None
            cur = duck.execute(text, params) if params else duck.execute(text)
            results[name] = ([d[0] for d in cur.description or ()], cur.fetchall())
    except duckdb.InterruptException:
        return _exit.INTERRUPTED
    except duckdb.Error as exc:
        return fail("events analyze", exc, _exit.USAGE)
    except StoreError as exc:  # a damaged page met while loading
        return fail("events analyze", exc, _exit.USAGE)
    finally:
        reader.close()
        duck.close()
    if as_json:
        objs = {
            k: [dict(zip(c, (_plain(v) for v in r), strict=True)) for r in rows] for k, (c, rows) in results.items()
        }
        print(dumps(objs["result"] if sql else objs))
        return _exit.OK
    for name, (columns, rows) in results.items():
        if not sql:
            print(f"\n{_TITLES[name]}")
        print(table(columns, rows) if rows else "(none)")
    return _exit.OK


def _plain(value: Any) -> Any:
    """DuckDB values as JSON: times as ISO strings, decimals and the like as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)


# -- the commands ----------------------------------------------------------------


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Ask questions of the stored log (SQL, DuckDB).", no_args_is_help=True)
    app.add_typer(group, name="events")

    @group.command("query")
    def query_cmd(
        sql: Annotated[
            str,
            typer.Argument(
                metavar="SQL", help="One SELECT (or WITH ... SELECT) over the events table; - reads it from stdin."
            ),
        ],
        limit: Annotated[
            int, typer.Option(min=1, metavar="N", help="At most this many rows (injected as a LIMIT).")
        ] = DEFAULT_LIMIT,
        json: Annotated[bool, typer.Option("--json", help="A JSON array of row objects.")] = False,
        timeout: Annotated[
            str, typer.Option(metavar="DURATION", help="Stop the query after this long (exit 124): 30s, 5m.")
        ] = DEFAULT_TIMEOUT,
    ) -> None:
        """Run read-only SQL on the log: one SELECT/WITH statement, nothing else.

        Table events: seq, event_id, source, event_type, delivery_id, owner, repo,
        received_at (ns since the epoch), summary, fields (JSON text), payload.
        The file is opened read-only and SQLite refuses anything but reads.

        \b
        Example: waitbus events query "SELECT source, count(*) AS n FROM events GROUP BY source"

        SQL that starts with `--` goes after a lone `--`, or on stdin with `-`.

        Limits: --timeout (default 30s), 256 MiB of SQLite memory, 16 MiB per value,
        64 MiB of result.

        Exit codes: 0 ok, 2 refused or bad SQL (the message says why), a memory limit, or no
        store, 124 stopped by --timeout, 130 Ctrl-C.
        """
        from waitbus_wire import parse_duration

        from ._render import fail

        try:
            seconds = parse_duration(timeout)
            if seconds <= 0:
                raise ValueError(f"--timeout {timeout!r} must be more than zero")
        except ValueError as exc:
            raise typer.Exit(fail("events query", f"--timeout: {exc}", _exit.USAGE)) from None
        text = sys.stdin.read() if sql == "-" else sql
        raise typer.Exit(query(text, limit=limit, as_json=json, timeout=seconds))

    @group.command("analyze")
    def analyze_cmd(
        sql: Annotated[
            str | None,
            typer.Option(
                "--sql", metavar="SQL", help="Your own DuckDB query over the events table instead of the report."
            ),
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="JSON: an object of reports, or rows for --sql.")] = False,
        show_progress: Annotated[
            bool, typer.Option("--progress", help="Report loading progress on stderr (default: only on a terminal).")
        ] = False,
    ) -> None:
        """Analyse the log with DuckDB (pip install 'waitbus-store[analyze]').

        Default report: events per source/event_type, per hour over the last day,
        top failing entities. With --sql, the table `events` has the log's columns
        (fields as JSON, no payload) plus ts (UTC timestamp), entity and failed.

        \b
        Example: waitbus events analyze --sql "SELECT fields->>'outcome' AS o, count(*) FROM events GROUP BY o"

        Exit codes: 0 ok, 2 DuckDB missing, bad SQL or no store, 130 Ctrl-C.
        """
        raise typer.Exit(analyze(sql, as_json=json, show_progress=show_progress))
