// The page: folds server-sent events into one state object and draws it. No framework, no
// build step. The server's `hub` module describes the three kinds of message.
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token");
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const $ = (id) => document.getElementById(id);
  let state = null;
  let limits = { failures: 200, retries: 50, notes: 30 };
  let canSteer = false;
  let drawPending = false;
  let lastSeq = -1;

  function listFor(type) {
    return type === "failure" ? "failures" : type === "retry" ? "retries" : "notes";
  }

  function applyEntry(entry) {
    if (!state || entry.seq <= lastSeq) return;
    lastSeq = entry.seq;
    const name = listFor(entry.type);
    const list = state.lists[name];
    list.push(entry);
    if (list.length > limits[name]) list.splice(0, list.length - limits[name]);
    if (entry.type === "failure") state.failures += 1;
  }

  function schedule() {
    if (drawPending) return;
    drawPending = true;
    setTimeout(() => { drawPending = false; draw(); }, 50);
  }

  function connect() {
    const source = new EventSource("/events" + query);
    source.addEventListener("open", () => { $("conn").textContent = "live"; });
    source.addEventListener("error", () => {
      $("conn").textContent = state && state.ended ? "server gone (final state shown)" : "reconnecting…";
    });
    source.addEventListener("snapshot", (e) => {
      state = JSON.parse(e.data);
      canSteer = !!state.can_steer;
      if (state.limits) limits = state.limits;
      lastSeq = state.seq;
      schedule();
    });
    source.addEventListener("entry", (e) => { applyEntry(JSON.parse(e.data)); schedule(); });
    source.addEventListener("state", (e) => {
      if (!state) return;
      const fresh = JSON.parse(e.data);
      fresh.lists = state.lists;
      fresh.failures = Math.max(fresh.failures, state.failures);
      state = fresh;
      schedule();
    });
  }

  // -- controls ----------------------------------------------------------------------------
  for (const action of ["pause", "resume", "cancel", "stop"]) {
    $(action).addEventListener("click", async () => {
      const headers = token ? { "X-Trio-Crawl-Token": token } : {};
      $("control-msg").textContent = action + "…";
      try {
        const response = await fetch("/api/" + action, { method: "POST", headers });
        const body = await response.json();
        $("control-msg").textContent = response.ok ? "sent " + action : body.error || response.status;
      } catch (err) {
        $("control-msg").textContent = "not sent: " + err;
      }
    });
  }

  for (const action of ["pause", "resume", "cancel"]) {
    $("crawl-" + action).addEventListener("click", async () => {
      const headers = token ? { "X-Trio-Crawl-Token": token } : {};
      const response = await fetch("/api/" + action, { method: "POST", headers });
      const body = await response.json();
      $("crawl-msg").textContent = response.ok ? "sent " + action + " to every worker" : body.error || response.status;
    });
  }

  // -- drawing -----------------------------------------------------------------------------
  function text(id, value) { const el = $(id); if (el.textContent !== String(value)) el.textContent = value; }
  function secs(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    return s >= 3600 ? Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m"
      : s >= 60 ? Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s" : s + "s";
  }
  function ofPlanned(part) {
    return part.planned === null || part.planned === undefined ? String(part.done) : part.done + " / " + part.planned;
  }
  function cell(row, value, cls) {
    const td = row.insertCell(); td.textContent = value === null || value === undefined ? "" : value;
    if (cls) td.className = cls; return td;
  }
  function fillList(id, items, render) {
    const ul = $(id); ul.replaceChildren();
    for (const item of items) { const li = document.createElement("li"); li.textContent = render(item); ul.appendChild(li); }
  }

  function draw() {
    if (!state) return;
    const database = state.mode === "database";
    const crawl = state.mode === "crawl";
    $("live").hidden = database || crawl;
    $("database").hidden = !database;
    $("crawl").hidden = !crawl;
    if (database) { drawDatabase(state); return; }
    if (crawl) { drawCrawl(state); return; }
    const status = state.mode === "waiting" ? "starting" : state.status;
    text("status", status);
    $("status").className = "badge " + status;
    $("paused").hidden = !state.paused || state.ended;
    text("session", state.session_id ? "session " + state.session_id.slice(0, 12) : "");
    text("access", canSteer ? "" : "read-only (open the URL with its ?token= to steer)");
    for (const id of ["pause", "resume", "cancel", "stop"]) $(id).disabled = !canSteer || state.ended || state.mode !== "live";
    if (canSteer && !state.ended) { $("pause").disabled = state.paused; $("resume").disabled = !state.paused; }
    text("elapsed", secs(state.elapsed));
    text("eta", state.ended ? "done" : secs(state.eta));
    text("pages", ofPlanned(state.pages));
    text("products", ofPlanned(state.products));
    text("rate", state.products_per_s.toFixed(1));
    text("retries", state.retries);
    text("failures", state.failures);
    drawStages(state.stages);
    fillList("batches-active", state.batches.active, (b) => "batch " + b.id + ": " + b.items + " items, " + (b.stage || "starting"));
    fillList("batches-done", state.batches.done.slice().reverse(), (b) => "batch " + b.id + ": " + b.outcome + " (" + b.ok + " ok, " + b.failed + " failed)");
    fillList("retry-list", state.lists.retries.slice().reverse(), (r) => r.stage + " (batch " + r.batch + "): attempt " + r.attempt + " in " + r.delay + "s after " + r.kind + ": " + r.message);
    text("retry-count", "(" + state.retries + " in all)");
    fillList("notes", state.lists.notes.slice().reverse(), (n) => new Date(n.ts * 1000).toLocaleTimeString() + "  " + n.text);
    drawFailures(state.lists.failures);
    drawChart(state.chart);
    const stop = $("stop-box");
    stop.hidden = !state.stop;
    if (state.stop) text("stop-box", "Stop requested (" + (state.stop.graceful ? "graceful" : "hard") + "): " + state.stop.reason);
    drawSummary(state.summary);
    text("lost", state.lost ? "the page's feed skipped " + state.lost + " progress events" : "");
  }

  function drawStages(stages) {
    const body = $("stages").tBodies[0]; body.replaceChildren();
    for (const s of stages) {
      const row = body.insertRow(); row.dataset.stage = s.name;
      cell(row, s.name);
      const bar = document.createElement("div"); bar.className = "bar";
      const total = s.total || 0;
      const ok = document.createElement("span"); ok.className = "ok";
      ok.style.width = total ? (100 * s.done / total).toFixed(1) + "%" : "0";
      const bad = document.createElement("span"); bad.className = "bad";
      bad.style.width = total ? (100 * s.failed / total).toFixed(1) + "%" : "0";
      bar.append(ok, bad); row.insertCell().appendChild(bar);
      cell(row, s.total === null ? s.done + " / planning…" : s.done + " / " + s.total, "num done");
      cell(row, s.failed, "num failed"); cell(row, s.retries, "num retries");
    }
  }

  function drawFailures(failures) {
    const body = $("failure-list").tBodies[0]; body.replaceChildren();
    for (const f of failures.slice().reverse()) {
      const row = body.insertRow(); row.className = "failure";
      cell(row, f.item, "url"); cell(row, f.stage); cell(row, f.kind); cell(row, f.attempts, "num"); cell(row, f.message);
    }
    text("failure-count", "(" + state.failures + " in all" + (state.failures > failures.length ? ", newest " + failures.length + " shown" : "") + ")");
  }

  function drawChart(points) {
    const svg = $("chart"); const W = 600, H = 170, pad = 18;
    if (!points.length) { svg.innerHTML = ""; return; }
    const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
    const top = Math.max(1, ...points.map((p) => Math.max(p[1], p[2])));
    const x = (t) => pad + (W - 2 * pad) * (t - t0) / (t1 - t0);
    const y = (v) => H - pad - (H - 2 * pad) * v / top;
    const line = (i) => points.map((p) => x(p[0]).toFixed(1) + "," + y(p[i]).toFixed(1)).join(" ");
    svg.innerHTML =
      '<line x1="' + pad + '" y1="' + (H - pad) + '" x2="' + (W - pad) + '" y2="' + (H - pad) + '" stroke="#ccc"/>' +
      '<text x="' + pad + '" y="12" font-size="11" fill="#6b7280">' + Math.round(top) + "/s</text>" +
      '<text x="' + (W - pad) + '" y="' + (H - 4) + '" font-size="11" fill="#6b7280" text-anchor="end">' + Math.round(t1) + "s</text>" +
      '<polyline id="chart-products" fill="none" stroke="#2563eb" stroke-width="2" points="' + line(1) + '"/>' +
      '<polyline id="chart-errors" fill="none" stroke="#dc2626" stroke-width="1.5" points="' + line(2) + '"/>';
  }

  function drawSummary(summary) {
    const dl = $("summary");
    $("summary-empty").hidden = !!summary;
    dl.hidden = !summary;
    if (!summary) return;
    dl.replaceChildren();
    const rows = [
      ["status", summary.status], ["elapsed", summary.elapsed.toFixed(2) + "s"],
      ["pages ok", summary.pages_ok], ["pages failed", summary.pages_failed],
      ["products saved", summary.products_saved], ["products failed", summary.products_failed],
      ["retries", summary.retries], ["failed items", summary.failed_items],
    ];
    if (summary.reason) rows.push(["reason", summary.reason]);
    for (const [name, value] of rows) {
      const dt = document.createElement("dt"); dt.textContent = name;
      const dd = document.createElement("dd"); dd.textContent = value; dd.dataset.field = name.replace(/ /g, "_");
      dl.append(dt, dd);
    }
  }

  function drawDatabase(data) {
    text("status", "database");
    $("status").className = "badge";
    text("access", "");
    text("db-lines", data.lines.join("\n"));
    const db = data.database;
    const runs = $("db-runs").tBodies[0]; runs.replaceChildren();
    for (const r of db.runs) {
      const row = runs.insertRow();
      for (const v of [r.session_id.slice(0, 12), r.status, r.started_at, r.finished_at, r.pages_ok, r.pages_failed, r.products_saved, r.products_failed, r.reason]) cell(row, v);
    }
    fillList("db-holes", db.holes.first_ranges, (h) => h.count + (h.count === 1 ? " product" : " products") + ", oldest index " + h.first + ".." + h.last + " (site pages " + h.pages[0] + ".." + h.pages[h.pages.length - 1] + ")");
    if (!db.holes.first_ranges.length) fillList("db-holes", ["none"], (s) => s);
    const failed = $("db-failed").tBodies[0]; failed.replaceChildren();
    for (const f of db.failed_items) {
      const row = failed.insertRow(); row.className = "failed-item";
      for (const v of [f.url, f.item, f.state, f.stage, f.kind, f.attempts, f.last_error]) cell(row, v);
    }
    const total = db.not_done.reduce((n, g) => n + g.count, 0);
    text("db-failed-count", "(" + total + " not done" + (total > db.failed_items.length ? ", first " + db.failed_items.length + " shown" : "") + ")");
  }

  function drawCrawl(data) {
    const control = data.control;
    const finished = data.progress && data.progress.finished;
    const status = control.cancelled ? "cancelled" : control.paused ? "paused" : finished ? "finished" : "running";
    text("status", "crawl " + data.queue + ": " + status);
    $("status").className = "badge " + status;
    text("access", canSteer ? "" : "read-only (open the URL with its ?token= to steer)");
    $("crawl-pause").disabled = !canSteer || control.paused;
    $("crawl-resume").disabled = !canSteer || !control.paused;
    $("crawl-cancel").disabled = !canSteer || !!control.cancelled;
    const t = data.totals;
    text("crawl-workers", data.workers.length);
    text("crawl-batches", t.batches);
    text("crawl-saved", t.products_saved);
    text("crawl-failed", t.products_failed);
    text("crawl-pages", t.pages_ok);
    text("crawl-retries", t.retries);
    const body = $("crawl-table").tBodies[0]; body.replaceChildren();
    for (const w of data.workers) {
      const row = body.insertRow(); row.className = "worker"; row.dataset.worker = w.name;
      for (const v of [w.name, w.state, w.batches, w.counts.products_saved, w.counts.products_failed, w.counts.pages_ok, w.counts.retries]) cell(row, v);
      cell(row, w.last_seen ? new Date(w.last_seen * 1000).toLocaleTimeString() : "");
    }
    fillList("crawl-recent", data.recent.slice().reverse(), (n) => new Date(n.ts * 1000).toLocaleTimeString() + "  " + n.worker + ": " + n.text);
    text("crawl-lines", data.lines.join("\n"));
  }

  connect();
})();
