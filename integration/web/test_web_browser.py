"""`waitbus web` in a real browser: Debian's Chromium driven by Playwright, against a
real `waitbus-web` server, a real hub and a real log. The page is read from its DOM."""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests._support import wait_until
from waitbus import Matcher, PredicateError, emit
from waitbus_store import Store, resolve_paths

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "web.png"


def open_page(browser: Any, web: Any) -> tuple[Any, list[str]]:
    """The page, loaded through its token URL and live; every URL it requested."""
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(web.url)
    page.wait_for_selector("#status.live")
    return page, requests


def row_ids(page: Any) -> list[str]:
    """Event ids of the rows, oldest first (the page shows the newest on top)."""
    ids: list[str] = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.dataset.id)")
    return ids[::-1]


def wait_rows(page: Any, n: int, timeout: float = 30) -> list[str]:
    page.wait_for_function(f"() => document.querySelectorAll('#rows tr').length >= {n}", timeout=timeout * 1000)
    return row_ids(page)


def stored_ids_after(event_id: str) -> list[str]:
    with Store(resolve_paths().db) as store:
        return [r.event_id for r in store.read_after(store.seq_at_or_before(event_id), 100_000)]


LATENCY_COUNTS = (
    "() => [...document.querySelectorAll('#latency tr')].map(tr => [tr.cells[0].textContent, +tr.cells[1].textContent])"
)


SOURCE_TOTAL = (
    "name => { const tr = [...document.querySelectorAll('#sources tr')].find(tr => tr.cells[0].textContent === name);"
    " return tr ? tr.cells[1].textContent : null; }"
)


def lower_edge_ms(label: str) -> int:
    """A latency bin's lower edge: "20-50 ms" -> 20, ">= 1000 ms" -> 1000."""
    return int(label.removeprefix(">= ").split("-")[0].split()[0])


def test_events_emitted_after_the_page_loads_appear_live_and_in_the_latency_histogram(browser, web):
    page, _ = open_page(browser, web)
    # Issue 17: "events emitted after the page loads appear within 1 s", as this test sees
    # it (emit called -> the row on the page). A box stalled for a second by other work
    # gets one more round of three; a page that is slow every time fails both.
    rounds: list[float] = []  # per round, the longest emit -> row on the page (ms)
    for r in range(2):
        took_ms = 0.0
        for i in range(3):
            started = time.time()
            event_id = emit("agent", "hello", summary=f"number {3 * r + i}").event_id
            page.wait_for_selector(f'#rows tr[data-id="{event_id}"]', timeout=30_000)
            took_ms = max(took_ms, (time.time() - started) * 1000)
        rounds.append(took_ms)
        if took_ms < 1000:
            break
    assert rounds[-1] < 1000, f"emit -> page took {rounds} ms (the longest of 3 events per round)"
    events = 3 * len(rounds)
    took_ms = max(rounds)
    cells = page.eval_on_selector("#rows tr", "tr => [...tr.cells].map(c => c.textContent)")
    assert cells[1:] == ["agent", "hello", f"number {events - 1}"]
    assert len(cells[0]) == len("03:04:05.678")
    # The page's emit -> page histogram counts each live event once (its panel is redrawn
    # once a second, hence the wait). Each event must sit in a bin that starts no later
    # than what the test saw it take, plus 100 ms for the browser's clock against ours, so
    # a histogram that mismeasures (wrong units, the wrong timestamp) fails.
    counted = f"() => ({LATENCY_COUNTS})().reduce((n, [, c]) => n + c, 0) === {events}"
    page.wait_for_function(counted, timeout=30_000)
    bins = dict(page.evaluate(LATENCY_COUNTS))
    assert sum(bins.values()) == events, bins
    late = {label: n for label, n in bins.items() if n and lower_edge_ms(label) > took_ms + 100}
    assert late == {}, f"the page measured more than the {took_ms:.0f} ms the test saw: {bins}"
    print(f"emit -> page: at most {took_ms:.0f} ms as the test saw it; the page's histogram {bins}")


def test_the_filter_shows_only_matching_events(browser, web):
    page, _ = open_page(browser, web)
    page.fill("#filter", 'source="pytest" fields.outcome="failed"')
    page.click("#filter-form button[type=submit]")
    page.wait_for_selector("#status.live")
    wanted = []
    for i in range(6):
        outcome = "failed" if i % 2 else "passed"
        event_id = emit("pytest", "pytest_session", fields={"outcome": outcome, "i": i}).event_id
        if outcome == "failed":
            wanted.append(event_id)
        emit("docker", "docker_container", fields={"outcome": "failed"})
    last = emit("pytest", "pytest_session", fields={"outcome": "failed", "i": 6}).event_id
    wanted.append(last)
    page.wait_for_selector(f'#rows tr[data-id="{last}"]')
    assert row_ids(page) == wanted
    assert page.is_hidden("#filter-error")


def test_a_bad_predicate_shows_its_error(browser, web):
    with pytest.raises(PredicateError) as expected:
        Matcher(["fields.outcome=failed"])  # a JSON string needs its quotes
    page, _ = open_page(browser, web)
    page.fill("#filter", "fields.outcome=failed")
    page.click("#filter-form button[type=submit]")
    page.wait_for_selector("#filter-error:not([hidden])")
    assert page.text_content("#filter-error") == str(expected.value)
    assert page.text_content("#status") == "filter error"
    emit("agent", "after")  # nothing is streamed under a refused filter
    time.sleep(0.5)
    assert row_ids(page) == []


def test_the_token_is_required(browser, web):
    event_id = emit("agent", "private", summary="not for strangers").event_id
    page = browser.new_page()
    for path in ("/", "/static/app.js", "/api/events", f"/?token={web.token[::-1]}"):
        response = page.goto(web.origin + path)
        assert response is not None and response.status == 401, path
        body = response.text()
        assert event_id not in body and "not for strangers" not in body
    assert browser.cookies() == []
    response = page.goto(web.url)
    assert response is not None and response.status == 200 and page.url == web.origin + "/"
    (cookie,) = browser.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["value"] == web.token
    page.wait_for_selector("#status.live")
    # The page's own script cannot read the cookie.
    assert page.evaluate("() => document.cookie") == ""


def test_no_request_leaves_the_pages_origin(browser, web, tmp_path):
    page, requests = open_page(browser, web)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    first = [
        emit("github", "workflow_run", summary="CI passed on main", fields={"conclusion": "success"}),
        emit("pytest", "pytest_session", summary="412 passed, 1 failed", fields={"outcome": "failed", "failed": 1}),
        emit("docker", "docker_container", summary="web-1 restarted", fields={"status": "restarting"}),
        emit("fs", "fs_change", summary="src/app.py modified", fields={"path": "src/app.py"}),
    ]
    for i in range(40):
        emit(["pytest", "fs", "agent", "docker"][i % 4], "tick", summary=f"event {i}", fields={"i": i})
    last = emit("agent", "agent_message", summary="reviewer -> builder", fields={"msg_body": "ship it"}).event_id
    page.wait_for_selector(f'#rows tr[data-id="{last}"]')
    # Every panel: details, sources, latency, subscribers, pause/resume, filter, replay.
    page.click(f'#rows tr[data-id="{first[1].event_id}"]')
    assert '"outcome": "failed"' in page.text_content("#details")
    page.wait_for_selector("#subscribers tr")
    page.wait_for_function("() => document.querySelectorAll('#sources tr').length >= 5")
    time.sleep(1.2)  # one more refresh of the panels for the picture
    shot = tmp_path / "web.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("WAITBUS_UPDATE_SCREENSHOT") == "1":  # refresh docs/web.png
        shutil.copyfile(shot, SCREENSHOT)
    page.click("#pause")
    page.click("#pause")
    page.wait_for_selector("#status.live")
    page.fill("#since", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#status.live")
    page.click("#live")
    page.wait_for_selector("#status.live")
    for _ in first:
        emit("agent", "again")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length >= 4")
    assert requests, "the page made no requests?"
    foreign = [u for u in requests if not u.startswith(web.origin + "/")]
    assert foreign == []
    assert violations == []


def test_a_script_in_an_event_renders_as_text(browser, web):
    page, _ = open_page(browser, web)
    summary = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    event = emit("agent", "xss", summary=summary, fields={"html": "<iframe src=/></iframe><b>bold</b>"})
    row = page.wait_for_selector(f'#rows tr[data-id="{event.event_id}"]')
    cells = row.eval_on_selector_all("td", "tds => tds.map(td => td.textContent)")
    assert cells[1:] == ["agent", "xss", summary]
    row.click()
    assert "<iframe src=/></iframe>" in page.text_content("#details")
    assert page.evaluate("() => window.__pwned") is None
    assert page.eval_on_selector_all("#rows script, #rows img, #rows b, #details *", "els => els.length") == 0


def test_replay_from_a_time_shows_the_earlier_events_once_then_the_live_ones(browser, web):
    page, _ = open_page(browser, web)
    # A whole second on the clock before the replay point, since the form takes seconds.
    time.sleep(1 - time.time() % 1 + 0.05)
    too_early = emit("agent", "too-early").event_id
    time.sleep(1 - time.time() % 1 + 0.05)
    since = datetime.fromtimestamp(int(time.time()), UTC)
    earlier = [emit("agent", "earlier", fields={"i": i}).event_id for i in range(5)]

    # Live events keep landing while the page replays: the seam must hold.
    stop = threading.Event()
    live: list[str] = []

    def keep_emitting() -> None:
        while not stop.is_set() and len(live) < 900:  # the page keeps 1000 rows
            live.append(emit("agent", "live", fields={"n": len(live)}).event_id)
            time.sleep(0.02)

    emitter = threading.Thread(target=keep_emitting)
    emitter.start()
    try:
        page.fill("#since", since.strftime("%Y-%m-%dT%H:%M:%S"))
        page.click("#replay-form button[type=submit]")
        # The server reads the log's head when the new stream's request arrives, then
        # sends `hello`, which turns the page's status (set to "connecting" by the submit)
        # back to live. A replayed row shows that live status is the new stream's, not
        # the old one's: events emitted from here on are past the head, so live.
        page.wait_for_function(
            "() => document.querySelector('#status.live') && document.querySelector('#rows tr.replay')",
            timeout=30_000,
        )
        at_live = len(live)
        wait_until(lambda: len(live) >= at_live + 10 or not emitter.is_alive(), "live events after the seam")
    finally:
        stop.set()
        emitter.join(10)
    final = emit("agent", "final").event_id
    page.wait_for_selector(f'#rows tr[data-id="{final}"]')
    shown = row_ids(page)
    expected = [earlier[0], *stored_ids_after(earlier[0])]
    assert expected[:5] == earlier and expected[-1] == final
    assert shown == expected
    assert len(shown) == len(set(shown)) == 5 + len(live) + 1
    assert too_early not in shown
    classes = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.className)")[::-1]
    assert classes[:5] == ["replay"] * 5 and classes[-1] == ""


def test_falling_behind_loses_nothing(browser, web_factory):
    web = web_factory("--lag-limit-bytes", "65536")
    page, _ = open_page(browser, web)
    # A page that stops reading: its script is paused in the debugger, so the browser
    # stops taking the stream and the server's buffer for it fills.
    cdp = browser.new_cdp_session(page)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")
    # 24 MB: more than the kernel's socket buffers and Chromium's own pipe can hold.
    pad = "x" * 40_000
    sent = [emit("agent", "big", fields={"i": i, "pad": pad}).event_id for i in range(600)]
    time.sleep(3)
    cdp.send("Debugger.resume")
    shown = wait_rows(page, len(sent), timeout=90)
    assert shown == sent  # every event once, in order
    log = page.text_content("#log")
    assert "fell behind, reconnecting" in log and "caught up from" in log
    page.wait_for_selector("#status.live")


def test_pause_and_resume_loses_nothing(browser, web):
    page, _ = open_page(browser, web)
    before = [emit("agent", "before", fields={"i": i}).event_id for i in range(3)]
    wait_rows(page, 3)
    page.click("#pause")
    page.wait_for_selector("#status.paused")
    during = [emit("agent", "during", fields={"i": i}).event_id for i in range(4)]
    time.sleep(0.5)
    assert row_ids(page) == before
    page.click("#pause")
    after = emit("agent", "after").event_id
    assert wait_rows(page, 8) == [*before, *during, after]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_1000_events_a_second_for_10_s_neither_freeze_the_page_nor_grow_the_server(browser, web, reap):
    import subprocess
    import sys

    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # installed, or the browser fixture skipped

    page, _ = open_page(browser, web)
    page.evaluate(
        """() => {
        window.__longest = 0;
        new PerformanceObserver((list) => {
            for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
        }).observe({type: "longtask", buffered: true});
    }"""
    )
    warm = [emit("burst", "warm", fields={"i": i}).event_id for i in range(200)]
    wait_rows(page, len(warm))
    time.sleep(2.5)  # a stats refresh and a panel paint before the baseline
    rss_before = web.rss_kib()

    emitter = reap(
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import time\nfrom waitbus import emit\nt0 = time.monotonic()\n"
                "for i in range(10_000):\n"
                "    emit('burst', 'tick', summary=f'tick {i}', fields={'i': i, 'text': 'x' * 100})\n"
                "    lag = t0 + (i + 1) / 1000 - time.monotonic()\n"
                "    if lag > 0:\n"
                "        time.sleep(lag)\n"
                "print(time.monotonic() - t0)\n",
            ],
            stdout=subprocess.PIPE,
        )
    )
    rss_peak, slowest = rss_before, 0.0
    while emitter.poll() is None:
        started = time.monotonic()
        page.evaluate("() => document.querySelectorAll('#rows tr').length")
        slowest = max(slowest, time.monotonic() - started)
        rss_peak = max(rss_peak, web.rss_kib())
        time.sleep(0.2)
    assert emitter.returncode == 0
    took = float(emitter.stdout.read())
    final = emit("burst", "final").event_id
    page.wait_for_selector(f'#rows tr[data-id="{final}"]', timeout=60_000)
    rss_peak = max(rss_peak, web.rss_kib())

    assert page.eval_on_selector_all("#rows tr", "rows => rows.length") == 1000  # --max-rows
    # Every event reached the page once: its per-source count. The panel is redrawn once
    # a second, so wait for it to catch up with the last event (the count only grows),
    # then judge what it shows: a missing event never gets there, a duplicate overshoots.
    total = 200 + 10_000 + 1
    try:
        page.wait_for_function(f"name => +({SOURCE_TOTAL})(name) >= {total}", arg="burst", timeout=30_000)
    except PlaywrightTimeoutError:
        pass  # the assertion says what the page shows
    assert page.evaluate(SOURCE_TOTAL, "burst") == str(total)
    longest = page.evaluate("() => window.__longest")
    print(f"burst took {took:.1f}s; server RSS {rss_before} -> peak {rss_peak} KiB; "
          f"slowest page round trip {slowest * 1000:.0f} ms; longest task {longest:.0f} ms")  # fmt: skip
    assert rss_peak - rss_before <= 20 * 1024
    # Frozen, not slow: the page's speed is printed above (docs/web.md quotes it), and
    # these bounds only catch a page that stopped answering, as a 2-core box shared with
    # the emitter, hub, server and the browser itself can stretch every figure.
    assert slowest < 10.0, f"the page did not answer for {slowest:.1f}s"
    assert longest < 5000, f"the page was busy with one task for {longest:.0f} ms"
