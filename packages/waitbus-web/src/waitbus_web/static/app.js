// waitbus web: the page. Event content is untrusted: everything from the bus is put
// into the page with textContent, never as HTML. No framework, no network but our origin.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const maxRows = Math.max(10, parseInt(document.body.dataset.maxRows, 10) || 1000);
  const rowsEl = $("rows");
  const byId = new Map(); // event_id -> event, only for rows on the page
  const sources = new Map(); // source -> {total, perSecond: Map(epoch second -> count)}
  const LAT_EDGES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, Infinity];
  const latency = new Array(LAT_EDGES.length).fill(0);
  const RATE_WINDOW_S = 10;

  let es = null;
  let lastId = null; // the cursor: the newest event id this page has seen
  let filterText = "";
  let paused = false;
  let pending = []; // events waiting for the next paint, at most maxRows
  let scheduled = false;
  let behind = false;

  function note(text) {
    const li = document.createElement("li");
    li.textContent = new Date().toLocaleTimeString() + "  " + text;
    const log = $("log");
    log.prepend(li);
    while (log.children.length > 20) log.lastElementChild.remove();
  }

  function setStatus(kind, text) {
    const el = $("status");
    el.className = "status " + kind;
    el.textContent = text;
  }

  function showError(text) {
    const el = $("filter-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  // -- the stream ---------------------------------------------------------------

  function close() {
    if (es !== null) {
      es.close();
      es = null;
    }
  }

  function connect(since) {
    close();
    behind = false;
    setStatus("", "connecting");
    const params = new URLSearchParams();
    if (filterText) params.set("match", filterText);
    if (since) params.set("since", since);
    const source = new EventSource("/api/events?" + params.toString());
    es = source;
    source.addEventListener("hello", (e) => {
      const hello = JSON.parse(e.data);
      lastId = hello.cursor;
      if (behind) note("caught up from " + hello.cursor);
      behind = false;
      setStatus("live", "live");
    });
    source.onmessage = (e) => onEvent(JSON.parse(e.data));
    source.addEventListener("stats", (e) => renderSubscribers(JSON.parse(e.data)));
    source.addEventListener("behind", () => {
      behind = true;
      setStatus("behind", "fell behind, reconnecting");
      note("fell behind, reconnecting from " + lastId);
    });
    source.addEventListener("refused", (e) => {
      const why = JSON.parse(e.data);
      close();
      showError(why.error);
      setStatus("problem", why.what + " error");
      note(why.what + " refused: " + why.error);
    });
    source.addEventListener("problem", (e) => {
      const why = JSON.parse(e.data);
      setStatus("problem", "no hub, reconnecting");
      note(why.error);
    });
    source.onerror = () => {
      if (es === source && !behind && source.readyState !== EventSource.CLOSED) {
        setStatus("problem", "disconnected, reconnecting");
      }
    };
  }

  function onEvent(ev) {
    lastId = ev.event_id;
    countSource(ev);
    if (!ev.replay) {
      const ms = performance.timeOrigin + performance.now() - ev.received_at / 1e6;
      let i = 0;
      while (ms >= LAT_EDGES[i]) i++;
      latency[i]++;
    }
    pending.push(ev);
    if (pending.length > maxRows) pending = pending.slice(pending.length - maxRows);
    schedule();
  }

  // -- rows: painted in batches, never more than maxRows ----------------------------

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    if (document.visibilityState === "visible") requestAnimationFrame(paint);
    else setTimeout(paint, 500);
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function clock(ns) {
    const d = new Date(ns / 1e6);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function paint() {
    scheduled = false;
    const batch = pending;
    pending = [];
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) {
      const ev = batch[i];
      const tr = document.createElement("tr");
      tr.dataset.id = ev.event_id;
      if (ev.replay) tr.className = "replay";
      tr.append(cell(clock(ev.received_at)), cell(ev.source), cell(ev.event_type), cell(ev.summary));
      byId.set(ev.event_id, ev);
      frag.append(tr);
    }
    rowsEl.insertBefore(frag, rowsEl.firstChild);
    while (rowsEl.children.length > maxRows) {
      const old = rowsEl.lastElementChild;
      byId.delete(old.dataset.id);
      old.remove();
    }
  }

  function clearRows() {
    pending = [];
    byId.clear();
    rowsEl.replaceChildren();
    $("details").textContent = "Click an event to see its fields.";
  }

  rowsEl.addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    const ev = tr && byId.get(tr.dataset.id);
    if (!ev) return;
    for (const sel of rowsEl.querySelectorAll("tr.selected")) sel.classList.remove("selected");
    tr.classList.add("selected");
    const shown = Object.assign({}, ev);
    delete shown.replay;
    $("details").textContent = JSON.stringify(shown, null, 2);
  });

  // -- per-source counters and the latency histogram ----------------------------------

  function countSource(ev) {
    let s = sources.get(ev.source);
    if (!s) {
      s = { total: 0, perSecond: new Map() };
      sources.set(ev.source, s);
    }
    s.total++;
    const sec = Math.floor(ev.received_at / 1e9);
    s.perSecond.set(sec, (s.perSecond.get(sec) || 0) + 1);
  }

  function barRow(cells, fraction) {
    const tr = document.createElement("tr");
    for (const c of cells) tr.append(cell(c));
    const td = document.createElement("td");
    td.className = "barcell";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = Math.round(Math.min(1, fraction) * 100) + "%";
    td.append(bar);
    tr.append(td);
    return tr;
  }

  function renderPanels() {
    const now = Math.floor(Date.now() / 1000);
    const rows = [];
    let top = 0;
    for (const [name, s] of sources) {
      let n = 0;
      for (const [sec, count] of s.perSecond) {
        if (sec <= now - RATE_WINDOW_S) s.perSecond.delete(sec);
        else n += count;
      }
      const rate = n / RATE_WINDOW_S;
      top = Math.max(top, rate);
      rows.push([name, s.total, rate]);
    }
    rows.sort((a, b) => b[2] - a[2] || b[1] - a[1]);
    $("sources").replaceChildren(
      ...rows.map(([name, total, rate]) => barRow([name, String(total), rate.toFixed(1) + "/s"], top ? rate / top : 0)),
    );
    const most = Math.max(1, ...latency);
    let lower = 0;
    $("latency").replaceChildren(
      ...LAT_EDGES.map((edge, i) => {
        const label = edge === Infinity ? ">= " + lower + " ms" : lower + "-" + edge + " ms";
        lower = edge;
        return barRow([label, String(latency[i])], latency[i] / most);
      }),
    );
  }

  function human(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / 1048576).toFixed(1) + " MiB";
  }

  function renderSubscribers(view) {
    if (!view.hub) {
      $("hub-line").textContent = "(hub unreachable: " + view.why + ")";
      $("subscribers").replaceChildren();
      return;
    }
    const h = view.hub;
    $("hub-line").textContent = "(hub pid " + h.pid + ", " + h.subscribers + " connected, " + h.evictions + " evicted)";
    $("subscribers").replaceChildren(
      ...view.clients.map((c) => {
        const tr = document.createElement("tr");
        const command = c.this_server ? c.command + "  (this page's server)" : c.command;
        tr.append(
          cell(c.pid === null ? "?" : String(c.pid)),
          cell(command),
          cell(c.state),
          cell(human(c.queued_bytes)),
          cell(c.behind_rows ? c.behind_rows + " rows" : "0"),
        );
        tr.title = c.command + " (connected " + Math.round(c.connected_sec) + " s)";
        return tr;
      }),
    );
  }

  // -- controls -----------------------------------------------------------------------

  const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  function ulidFloor(ms) {
    // The smallest event id at this millisecond: the SDK's since=<time> cursor.
    let out = "";
    for (let i = 0; i < 10; i++) {
      out = CROCKFORD[ms % 32] + out;
      ms = Math.floor(ms / 32);
    }
    return out + "0".repeat(16);
  }

  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    if (paused) {
      close();
      setStatus("paused", "paused");
      note("paused at " + lastId);
    } else {
      note("resumed from " + lastId);
      connect(lastId);
    }
  });

  $("filter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    filterText = $("filter").value.trim();
    showError("");
    clearRows();
    note(filterText ? "filter: " + filterText : "filter cleared");
    if (!paused) connect(null);
  });

  $("replay-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("since").value;
    const ms = value ? new Date(value).getTime() : NaN;
    if (Number.isNaN(ms)) {
      showError("Replay from: pick a date and time");
      return;
    }
    showError("");
    clearRows();
    paused = false;
    $("pause").textContent = "Pause";
    note("replay from " + new Date(ms).toLocaleString());
    connect(ulidFloor(ms));
  });

  $("live").addEventListener("click", () => {
    clearRows();
    paused = false;
    $("pause").textContent = "Pause";
    note("live from now");
    connect(null);
  });

  setInterval(renderPanels, 1000);
  renderPanels();
  connect(null);
})();
