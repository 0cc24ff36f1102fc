/// The dashboard's one page: plain HTML, CSS and JavaScript, no external network, no build
/// step. Log lines and names are only ever set as text (never parsed as HTML). Rendering is
/// capped (the newest 500 matching lines are in the DOM; 10,000 are held) and batched per
/// animation frame, so a flood of logs costs the page a bounded amount of work per second.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="devctl-token" content="{{TOKEN}}">
<title>devctl</title>
<link id="favicon" rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%23888'/%3E%3C/svg%3E">
<style>
  :root { --bg:#fafafa; --fg:#1d1d1f; --muted:#6e6e73; --line:#e3e3e6; --ok:#1f883d; --bad:#cf222e; --warn:#bf8700; --accent:#0969da; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:12px; align-items:center; padding:10px 16px; border-bottom:1px solid var(--line); background:#fff; position:sticky; top:0; z-index:2; }
  header h1 { font-size:16px; margin:0; }
  #conn { font-size:12px; color:var(--muted); }
  #conn.live::before { content:"● "; color:var(--ok); }
  #conn.down::before { content:"● "; color:var(--bad); }
  .spacer { flex:1; }
  button { font:inherit; padding:4px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
  button:hover { border-color:var(--accent); }
  button:disabled { opacity:.5; cursor:default; }
  button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible { outline:2px solid var(--accent); outline-offset:1px; }
  main { padding:12px 16px; display:grid; gap:12px; }
  section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; }
  h2 { font-size:14px; margin:0 0 8px; }
  #banner { display:none; background:#ffebe9; border:1px solid var(--bad); color:#82071e; border-radius:8px; padding:10px 12px; }
  #banner.shown { display:block; }
  #banner ul, #build-errors { margin:6px 0 0; padding-left:18px; font-family:ui-monospace, monospace; font-size:12px; white-space:pre-wrap; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { font-size:12px; color:var(--muted); font-weight:600; }
  .state { font-weight:600; }
  .s-ready, .s-running, .s-succeeded { color:var(--ok); }
  .s-failed, .s-unhealthy, .s-restarting { color:var(--bad); }
  .s-starting, .s-pending, .s-building, .s-stopping { color:var(--warn); }
  .s-stopped { color:var(--muted); }
  .tabs { display:flex; gap:4px; margin-bottom:8px; }
  .tabs button[aria-selected="true"] { border-color:var(--accent); color:var(--accent); font-weight:600; }
  .toolbar { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:6px; font-size:13px; }
  .toolbar input[type=search] { width:260px; font:inherit; padding:3px 6px; border:1px solid var(--line); border-radius:6px; }
  .toolbar input.invalid { border-color:var(--bad); }
  /* Layout of new rows stays inside the log box, and rows scrolled out of view are not painted. */
  #logs { contain:strict; height:420px; overflow:auto; font:12px/1.45 ui-monospace, monospace; background:#0d1117; color:#e6edf3; border-radius:6px; padding:6px 8px; }
  .line { white-space:pre-wrap; word-break:break-all; content-visibility:auto; contain-intrinsic-size:auto 17px; }
  .line .t { color:#7d8590; }
  .line .src { display:inline-block; min-width:9ch; font-weight:600; }
  .line .lvl-error, .line .lvl-critical { color:#ff7b72; font-weight:600; }
  .line .lvl-warning { color:#d29922; }
  .line .kv { color:#8b949e; }
  .line a.trace { color:#79c0ff; }
  .line.err { background:rgba(248,81,73,.12); }
  .note { color:var(--muted); font-size:12px; }
  #traces-list tr { cursor:pointer; }
  #traces-list tr:hover { background:#f3f4f6; }
  .wf-row { display:grid; grid-template-columns: minmax(220px, 34%) 1fr 80px; gap:8px; align-items:center; font-size:12px; padding:2px 0; border-bottom:1px solid #f0f0f0; }
  .wf-name { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
  .wf-track { position:relative; height:12px; background:#f3f4f6; border-radius:3px; }
  .wf-bar { position:absolute; top:0; height:12px; background:var(--accent); border-radius:3px; min-width:2px; }
  .wf-bar.error { background:var(--bad); }
  .wf-attrs { grid-column: 1 / -1; color:var(--muted); font-family:ui-monospace, monospace; font-size:11px; padding-left:8px; white-space:pre-wrap; }
  .svc { color:var(--accent); font-weight:600; }
  #toast { position:fixed; bottom:12px; right:12px; background:#1d1d1f; color:#fff; padding:8px 12px; border-radius:6px; display:none; max-width:60ch; }
  #toast.shown { display:block; }
  @media (max-width: 700px) { .toolbar input[type=search] { width:100%; } td, th { padding:3px 4px; } }
</style>
</head>
<body>
<header>
  <h1>devctl</h1>
  <span id="phase" class="state"></span>
  <span id="conn" class="down">connecting</span>
  <span class="spacer"></span>
  <span id="watch-controls" hidden>
    <button id="watch-toggle" type="button">Pause watching</button>
    <button id="rebuild" type="button">Rebuild now</button>
  </span>
</header>
<main>
  <div id="banner" role="alert"><strong>Build failed</strong> — the running services are unchanged until it is fixed.<ul id="banner-errors"></ul></div>
  <section aria-labelledby="resources-title">
    <h2 id="resources-title">Resources</h2>
    <div style="overflow-x:auto">
    <table id="resources">
      <thead><tr><th>Resource</th><th>State</th><th>Build</th><th>PID</th><th>Port</th><th>Uptime</th><th>Restarts</th><th>Last ready</th><th>Links</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    </div>
  </section>
  <section id="build" aria-labelledby="build-title">
    <h2 id="build-title">Build</h2>
    <div id="build-summary" class="note">no build yet (builds run under devctl up --watch)</div>
    <ul id="build-errors"></ul>
  </section>
  <section>
    <div class="tabs" role="tablist">
      <button id="tab-logs" role="tab" aria-selected="true" aria-controls="panel-logs" type="button">Logs</button>
      <button id="tab-traces" role="tab" aria-selected="false" aria-controls="panel-traces" type="button">Traces</button>
    </div>
    <div id="panel-logs" role="tabpanel" aria-labelledby="tab-logs">
      <div class="toolbar">
        <label>Resource <select id="log-source"><option value="">all</option></select></label>
        <label>Filter <input id="log-filter" type="search" placeholder="text or /regex/" autocomplete="off"></label>
        <label><input id="log-errors" type="checkbox"> errors only</label>
        <label><input id="log-times" type="checkbox" checked> timestamps</label>
        <label><input id="log-follow" type="checkbox" checked> follow</label>
        <button id="log-clear" type="button">Clear</button>
        <span id="log-count" class="note"></span>
      </div>
      <div id="logs" tabindex="0" aria-label="log lines"></div>
    </div>
    <div id="panel-traces" role="tabpanel" aria-labelledby="tab-traces" hidden>
      <div class="toolbar"><button id="traces-refresh" type="button">Refresh</button><span id="traces-note" class="note"></span></div>
      <div style="overflow-x:auto">
      <table><thead><tr><th>Started</th><th>Root</th><th>Status</th><th>Duration</th><th>Spans</th><th>Services</th><th>Trace</th></tr></thead>
        <tbody id="traces-list"></tbody></table>
      </div>
      <div id="trace-view" style="margin-top:10px"></div>
    </div>
  </section>
</main>
<div id="toast" role="status"></div>
<script>
"use strict";
const token = document.querySelector('meta[name="devctl-token"]').content;
const MAX_LINES = 10000, MAX_RENDER = 500;
let stack = null, lines = [], lastEvent = 0, source = null, renderQueued = false, fullRender = true;
let renderedIds = [], serverNow = 0, clientAtServerNow = 0;
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value; else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value); else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
};
const pad = (n, w = 2) => String(n).padStart(w, "0");
const clock = (date) => `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
const duration = (ms) => ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60000)} m ${Math.floor(ms / 1000) % 60} s`;
function toast(text) { const t = $("toast"); t.textContent = text; t.classList.add("shown"); clearTimeout(toast.timer); toast.timer = setTimeout(() => t.classList.remove("shown"), 4000); }

// ---- state ----
function problems(s) {
  if (!s) return [];
  const bad = s.processes.filter(p => ["failed", "unhealthy", "restarting"].includes(p.state)).map(p => `${p.name} ${p.state}`);
  if (s.build && s.build.phase === "failed") bad.push("build failed");
  if (s.phase === "failed") bad.push("stack failed");
  return bad;
}
function setFavicon(colour) {
  $("favicon").href = `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%23${colour}'/%3E%3C/svg%3E`;
}
function applyState(s) {
  stack = s;
  const bad = problems(s);
  document.title = bad.length ? `✖ devctl — ${bad.join(", ")}` : `devctl — ${s.phase}`;
  setFavicon(bad.length ? "cf222e" : s.phase === "running" ? "1f883d" : "bf8700");
  const phase = $("phase"); phase.textContent = s.phase; phase.className = `state s-${s.phase}`;
  renderResources();
  renderBuild();
  const names = ["devctl", ...s.processes.map(p => p.name)];
  const select = $("log-source");
  for (const name of names) if (![...select.options].some(o => o.value === name)) select.append(el("option", { value: name, text: name }));
  const watching = !!s.watch;
  $("watch-controls").hidden = !watching;
  if (watching) $("watch-toggle").textContent = s.watch.paused ? "Resume watching" : "Pause watching";
}
function since(iso) {
  if (!iso) return "";
  const now = serverNow + (Date.now() - clientAtServerNow);
  return duration(Math.max(0, now - Date.parse(iso)));
}
function resourceRow(p) {
  const cells = ["name", "state", "build", "pid", "port", "uptime", "restarts", "ready"].map(c => el("td", { class: c }));
  cells[0].textContent = p.name;
  const links = el("td", { class: "links" });
  if (p.url) {
    links.append(el("a", { href: p.url, text: "open", target: "_blank", rel: "noopener" }));
    if (p.kind === "service") links.append(" · ", el("a", { href: p.url + "/metrics", text: "metrics", target: "_blank", rel: "noopener" }));
  } else if (p.note) links.append(p.note);
  const action = el("td");
  if (p.kind === "service" || p.kind === "edge") {
    const button = el("button", { type: "button", class: "restart", text: "Restart", "data-name": p.name });
    button.setAttribute("aria-label", `restart ${p.name}`);
    button.addEventListener("click", () => restart(p.name, button));
    action.append(button);
  }
  return el("tr", { "data-name": p.name }, ...cells, links, action);
}
function renderResources() {
  const body = document.querySelector("#resources tbody");
  const rows = [];
  if (stack.postgres) {
    rows.push({ name: "postgres", kind: "database", state: "ready", port: stack.postgres.address, note: stack.postgres.embedded ? "embedded" : "external" });
  }
  for (const p of stack.processes) rows.push(p);
  // Rows are kept and their cells updated (a button being clicked is never replaced).
  const existing = new Map([...body.children].map(row => [row.dataset.name, row]));
  const ordered = rows.map(p => existing.get(p.name) || resourceRow(p));
  if (ordered.length !== body.children.length || ordered.some((row, i) => body.children[i] !== row)) body.replaceChildren(...ordered);
  rows.forEach((p, i) => {
    const row = ordered[i], cell = (name) => row.querySelector(`td.${name}`);
    const live = p.state === "ready" || p.state === "unhealthy" || p.state === "starting";
    const build = p.kind === "service" && stack.build ? stack.build.phase : "—";
    row.dataset.state = p.state;
    const set = (name, text, className) => { const c = cell(name); if (c.textContent !== String(text)) c.textContent = text; if (className) c.className = className; };
    set("state", p.state, `state s-${p.state}`);
    set("build", build, `build s-${build}`);
    set("pid", p.pid ?? "");
    set("port", p.port ?? "");
    set("uptime", live && p.startedAt ? since(p.startedAt) : "");
    set("restarts", p.restarts ?? "");
    set("ready", p.readyAt ? `${since(p.readyAt)} ago${p.readyAfterMs != null ? ` (in ${p.readyAfterMs} ms)` : ""}` : "");
  });
}
function renderBuild() {
  const b = stack.build;
  const banner = $("banner");
  const errors = b && b.phase === "failed" ? b.errors : [];
  banner.classList.toggle("shown", errors.length > 0);
  $("banner-errors").replaceChildren(...errors.slice(0, 20).map(e => el("li", { text: e })));
  if (!b) return;
  const started = new Date(b.startedAt);
  $("build-summary").textContent = b.phase === "building" ? `building since ${clock(started)}` :
    `${b.phase} at ${clock(started)} in ${b.durationMs != null ? duration(b.durationMs) : "?"}` + (b.restarted && b.restarted.length ? ` — restarted ${b.restarted.join(", ")}` : "");
  $("build-summary").className = `state s-${b.phase}`;
  $("build-errors").replaceChildren(...errors.map(e => el("li", { text: e })));
}
async function post(path) {
  const response = await fetch(path, { method: "POST", headers: { "X-Devctl-Token": token } });
  const body = await response.json().catch(() => ({}));
  // A new run of the stack has a new token: this page is from the last one.
  if (response.status === 403 && /token/.test(body.error || "")) { location.reload(); }
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}
async function restart(name, button) {
  button.disabled = true;
  toast(`restarting ${name}…`);
  try { await post(`/api/v1/resources/${encodeURIComponent(name)}/restart`); toast(`${name} restarted and ready`); }
  catch (error) { toast(`${name}: ${error.message}`); }
  finally { button.disabled = false; }
}
$("watch-toggle").addEventListener("click", async () => {
  try { await post(stack.watch.paused ? "/api/v1/watch/resume" : "/api/v1/watch/pause"); } catch (error) { toast(error.message); }
});
$("rebuild").addEventListener("click", async () => {
  try { await post("/api/v1/build"); toast("build requested"); } catch (error) { toast(error.message); }
});

// ---- logs ----
const LEVELS = { trace: "trace", debug: "debug", info: "info", notice: "info", warning: "warning", warn: "warning", error: "error", critical: "critical", fatal: "critical" };
const HIDDEN_KEYS = new Set(["timestamp", "time", "ts", "level", "message", "msg", "label", "service"]);
function toLine(event) {
  const line = { id: event.id, time: new Date(event.time), source: event.source, raw: event.line, level: null, message: event.line, extras: [], traceId: null };
  if (event.line.startsWith("{")) {
    try {
      const json = JSON.parse(event.line);
      if (json && typeof json === "object") {
        line.level = LEVELS[String(json.level || "").toLowerCase()] || null;
        line.message = String(json.message ?? json.msg ?? "");
        line.traceId = typeof json.trace_id === "string" ? json.trace_id : null;
        for (const [key, value] of Object.entries(json)) if (!HIDDEN_KEYS.has(key)) line.extras.push(`${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
    } catch (_) { /* not JSON after all: shown as text */ }
  }
  line.error = line.level === "error" || line.level === "critical" ||
    (line.level === null && /\b(error|fatal|panic|failed)\b|exited with status/i.test(event.line));
  line.search = `${line.source} ${event.line}`;
  return line;
}
let matcher = () => true;
function updateMatcher() {
  const input = $("log-filter"), text = input.value.trim();
  input.classList.remove("invalid");
  let test = () => true;
  if (text.length > 2 && text.startsWith("/") && text.endsWith("/")) {
    try { const re = new RegExp(text.slice(1, -1), "i"); test = (l) => re.test(l.search); }
    catch (_) { input.classList.add("invalid"); }
  } else if (text) {
    const lower = text.toLowerCase(); test = (l) => l.search.toLowerCase().includes(lower);
  }
  const only = $("log-source").value, errors = $("log-errors").checked;
  matcher = (l) => (!only || l.source === only) && (!errors || l.error) && test(l);
  fullRender = true; scheduleRender();
}
function lineNode(l) {
  const node = el("div", { class: l.error ? "line err" : "line", "data-id": l.id, "data-source": l.source });
  if ($("log-times").checked) node.append(el("span", { class: "t", text: clock(l.time) + " " }));
  node.append(el("span", { class: "src", text: l.source }), " ");
  if (l.level) node.append(el("span", { class: `lvl-${l.level}`, text: l.level.toUpperCase() }), " ");
  node.append(el("span", { class: "msg", text: l.message }));
  if (l.extras.length) node.append(" ", el("span", { class: "kv", text: l.extras.join(" ") }));
  if (l.traceId) {
    const link = el("a", { href: `#trace=${l.traceId}`, class: "trace", text: "trace ↗", "data-trace": l.traceId });
    link.addEventListener("click", (event) => { event.preventDefault(); openTrace(l.traceId); });
    node.append(" ", link);
  }
  return node;
}
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(renderLogs);
}
function renderLogs() {
  renderQueued = false;
  const box = $("logs");
  if (fullRender) {
    const shown = [];
    for (let i = lines.length - 1; i >= 0 && shown.length < MAX_RENDER; i--) if (matcher(lines[i])) shown.push(lines[i]);
    shown.reverse();
    box.replaceChildren(...shown.map(lineNode));
    renderedIds = shown.map(l => l.id);
    fullRender = false;
  } else {
    const newest = renderedIds.length ? renderedIds[renderedIds.length - 1] : -1;
    const fresh = [];
    for (let i = lines.length - 1; i >= 0 && lines[i].id > newest; i--) if (matcher(lines[i])) fresh.push(lines[i]);
    fresh.reverse();
    const added = fresh.slice(-MAX_RENDER);
    if (added.length) {
      const fragment = document.createDocumentFragment();
      for (const l of added) fragment.append(lineNode(l));
      box.append(fragment);
      renderedIds.push(...added.map(l => l.id));
      while (renderedIds.length > MAX_RENDER) { box.firstChild.remove(); renderedIds.shift(); }
    }
  }
  $("log-count").textContent = `${renderedIds.length} shown of ${lines.length} held`;
  if ($("log-follow").checked) box.scrollTop = box.scrollHeight;
}
function addLines(events) {
  for (const event of events) lines.push(toLine(event));
  if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
  scheduleRender();
}
for (const id of ["log-source", "log-errors", "log-times"]) $(id).addEventListener("change", updateMatcher);
$("log-filter").addEventListener("input", updateMatcher);
$("log-filter").addEventListener("search", updateMatcher);
$("log-clear").addEventListener("click", () => { lines = []; fullRender = true; scheduleRender(); });
$("logs").addEventListener("scroll", () => {
  const box = $("logs"), atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
  // Scrolling up (wheel, keys, the bar) stops following; back at the bottom follows again.
  if ($("log-follow").checked !== atBottom) $("log-follow").checked = atBottom;
});

// ---- traces ----
function selectTab(name) {
  for (const tab of ["logs", "traces"]) {
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(`panel-${tab}`).hidden = tab !== name;
  }
  if (name === "traces") loadTraces();
}
$("tab-logs").addEventListener("click", () => selectTab("logs"));
$("tab-traces").addEventListener("click", () => selectTab("traces"));
$("traces-refresh").addEventListener("click", loadTraces);
async function loadTraces() {
  const response = await fetch("/api/v1/traces?limit=50");
  if (!response.ok) { $("traces-note").textContent = await response.text(); return; }
  const list = await response.json();
  $("traces-note").textContent = `${list.held} of at most ${list.capacity} traces held`;
  $("traces-list").replaceChildren(...list.traces.map(t => {
    const row = el("tr", { "data-trace": t.traceID, tabIndex: 0 },
      el("td", { text: clock(new Date(t.startUnixNano / 1e6)) }), el("td", { text: t.root }),
      el("td", { class: t.status === "error" ? "state s-failed" : "", text: t.status }),
      el("td", { text: duration(t.durationNanos / 1e6) }), el("td", { text: t.spanCount }),
      el("td", { text: t.services.join(", ") }), el("td", { class: "note", text: t.traceID.slice(0, 12) }));
    row.addEventListener("click", () => openTrace(t.traceID));
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") openTrace(t.traceID); });
    return row;
  }));
}
const KEY_ATTRIBUTES = ["http.request.method", "http.route", "url.path", "http.response.status_code", "rpc.system", "rpc.grpc.status_code", "rpc.connect_rpc.error_code", "db.namespace", "db.name", "db.query.text", "db.statement", "server.address"];
async function openTrace(id) {
  if ($("panel-traces").hidden) { selectTab("traces"); }
  const view = $("trace-view");
  view.replaceChildren(el("div", { class: "note", text: `loading trace ${id}…` }));
  const response = await fetch(`/api/v1/traces/${encodeURIComponent(id)}`);
  if (!response.ok) { view.replaceChildren(el("div", { class: "note", text: (await response.text()) || `trace ${id} not found` })); return; }
  const trace = await response.json();
  const spans = trace.spans, byParent = new Map(), ids = new Set(spans.map(s => s.spanID));
  for (const span of spans) {
    const parent = ids.has(span.parentSpanID) ? span.parentSpanID : "";
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(span);
  }
  const ordered = [];
  const visit = (parent, depth) => {
    for (const span of (byParent.get(parent) || []).sort((a, b) => a.startUnixNano - b.startUnixNano)) { ordered.push([span, depth]); visit(span.spanID, depth + 1); }
  };
  visit("", 0);
  const start = Math.min(...spans.map(s => s.startUnixNano)), end = Math.max(...spans.map(s => s.endUnixNano));
  const total = Math.max(1, end - start);
  view.replaceChildren(el("h2", { text: `${trace.summary.root} — ${duration(trace.summary.durationNanos / 1e6)}, ${spans.length} spans, ${trace.summary.status}` }),
    el("div", { class: "note", text: `trace ${trace.summary.traceID}` }),
    ...ordered.map(([span, depth]) => {
      const offset = (span.startUnixNano - start) / 1e6, length = (span.endUnixNano - span.startUnixNano) / 1e6;
      const attributes = KEY_ATTRIBUTES.filter(k => span.attributes[k] != null).map(k => `${k}=${span.attributes[k]}`);
      if (span.statusMessage) attributes.push(`status: ${span.statusMessage}`);
      const bar = el("div", { class: span.status === "error" ? "wf-bar error" : "wf-bar" });
      bar.style.left = `${((span.startUnixNano - start) / total) * 100}%`;
      bar.style.width = `${((span.endUnixNano - span.startUnixNano) / total) * 100}%`;
      return el("div", { class: "wf-row span", "data-span": span.spanID },
        el("div", { class: "wf-name", title: span.name },
          el("span", { text: "\u00a0\u00a0".repeat(depth) }), el("span", { class: "svc", text: span.service }), " ", el("span", { text: span.name })),
        el("div", { class: "wf-track", title: `+${duration(offset)}` }, bar),
        el("div", { text: `${duration(length)}${span.status === "error" ? " ✖" : ""}` }),
        attributes.length ? el("div", { class: "wf-attrs", text: `+${duration(offset)}  ${attributes.join("  ")}` }) : null);
    }));
}

// ---- live ----
async function boot() {
  const logs = await (await fetch("/api/v1/logs?limit=5000")).json();
  const state = await (await fetch("/api/v1/state")).json();
  serverNow = Date.parse(state.now); clientAtServerNow = Date.now();
  lines = []; addLines(logs.lines); fullRender = true;
  applyState(state.stack);
  lastEvent = `${logs.epoch}-${logs.newest}`;
  follow();
}
function follow() {
  if (source) source.close();
  source = new EventSource(`/api/v1/events?after=${encodeURIComponent(lastEvent)}`);
  source.onopen = () => { $("conn").className = "live"; $("conn").textContent = "live"; };
  source.onerror = () => { $("conn").className = "down"; $("conn").textContent = "reconnecting…"; };
  source.addEventListener("log", (message) => { addLines([JSON.parse(message.data)]); });
  source.addEventListener("state", (message) => { applyState(JSON.parse(message.data).state); });
  // Events were lost, or the stack was restarted (new ids, new token): start again.
  source.addEventListener("reset", () => { source.close(); location.reload(); });
}
setInterval(() => { if (stack) renderResources(); }, 1000);
if (location.hash.startsWith("#trace=")) openTrace(location.hash.slice(7));
boot().catch((error) => { $("conn").textContent = `cannot load the stack: ${error.message}`; setTimeout(boot, 1000); });
</script>
</body>
</html>
"""#
}
