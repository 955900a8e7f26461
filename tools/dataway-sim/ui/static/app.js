// dataway-sim trace viewer: plain JavaScript over the simulator's /v1/_sim/ JSON API.
// Every value from the API reaches the page through textContent, never as HTML.
"use strict";

const POLL_MS = 2000;
const state = { view: "traces", traceId: "", selectedSpan: "", category: "", timer: 0, seq: 0 };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    // An object through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (k === "style") Object.assign(e.style, v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).message || msg; } catch (_) { /* not JSON */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

function fmtDur(us) {
  us = Number(us) || 0;
  if (us < 1000) return us + " µs";
  if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
  return (us / 1e6).toFixed(2) + " s";
}

function fmtTimeNs(ns) {
  const n = Number(ns);
  if (!n) return "";
  const d = new Date(n / 1e6);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function fmtTimeUs(us) { return fmtTimeNs(Number(us) * 1000); }

function fmtBytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
  return (n / (1 << 20)).toFixed(1) + " MiB";
}

function fmtValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function kvList(obj) {
  return Object.keys(obj || {}).sort().map((k) => el("span", { class: "kv" }, el("b", { text: k }), "=", fmtValue(obj[k])));
}

function replaceRows(tbody, rows) { tbody.replaceChildren(...rows); }

// ---- header: what the viewer keeps and evicted ----

async function refreshStoreLine() {
  const st = await getJSON("/v1/_sim/trace_store");
  let line = `${st.traces} traces (${st.spans} spans) kept, at most ${st.max_traces}`;
  line += st.evicted_traces ? ` · evicted ${st.evicted_traces} oldest traces (${st.evicted_spans} spans)` : " · nothing evicted";
  if (st.dropped_spans) line += ` · dropped ${st.dropped_spans} spans past ${st.max_spans_per_trace} in one trace`;
  $("store-line").textContent = line;
  $("store-line").dataset.evicted = String(st.evicted_traces);
  return st;
}

function fillSelect(sel, values) {
  const cur = sel.value;
  const want = ["", ...values];
  const have = Array.from(sel.options).map((o) => o.value);
  if (want.length === have.length && want.every((v, i) => v === have[i])) return;
  sel.replaceChildren(el("option", { value: "", text: "any" }), ...values.map((v) => el("option", { value: v, text: v })));
  if (cur && !values.includes(cur)) sel.append(el("option", { value: cur, text: cur }));
  sel.value = cur;
}

// ---- trace list ----

async function renderTraces() {
  const st = await refreshStoreLine();
  fillSelect($("f-service"), st.services || []);
  fillSelect($("f-source"), st.sources || []);
  const q = new URLSearchParams();
  for (const [k, id] of [["service", "f-service"], ["status", "f-status"], ["source", "f-source"], ["q", "f-q"]]) {
    const v = $(id).value.trim();
    if (v) q.set(k, v);
  }
  q.set("limit", "200");
  const seq = state.seq;
  const traces = await getJSON("/v1/_sim/traces?" + q.toString());
  // A filter changed while this answer was on its way: the newer refresh draws the list.
  if (seq !== state.seq) return;
  replaceRows($("trace-list").tBodies[0], traces.map((t) => {
    const open = () => { location.hash = "#/trace/" + encodeURIComponent(t.trace_id); };
    return el("tr", { class: "trace-row", "data-trace-id": t.trace_id, onclick: open },
      el("td", { text: fmtTimeNs(t.received) }),
      el("td", { class: "mono" }, el("a", { href: "#/trace/" + encodeURIComponent(t.trace_id), text: t.trace_id })),
      el("td", { text: t.root_service }),
      el("td", { text: t.root_resource }),
      el("td", { class: "num", text: t.spans }),
      el("td", { class: "num", text: fmtDur(t.duration_us) }),
      el("td", {}, t.error ? el("span", { class: "badge err", title: t.error_spans + " error spans", text: "error" }) : el("span", { class: "badge ok", text: "ok" })),
      el("td", {}, (t.sources || [t.source]).map((s) => el("span", { class: "badge", text: s })),
        (t.via || []).includes("tail_sampling") ? el("span", { class: "badge", title: "arrived in /v1/tail_sampling packets", text: "tail sampling" }) : null));
  }));
  $("traces-empty").hidden = traces.length > 0;
}

// ---- one trace: the waterfall ----

async function renderTrace() {
  await refreshStoreLine();
  let d;
  try {
    d = await getJSON("/v1/_sim/traces/" + encodeURIComponent(state.traceId));
  } catch (e) {
    if (e.status !== 404) throw e;
    $("trace-title").textContent = "Trace " + state.traceId;
    $("trace-missing").hidden = false;
    $("trace-missing").textContent = e.message;
    $("trace-meta").textContent = "";
    $("waterfall").replaceChildren();
    $("span-attrs").replaceChildren();
    return;
  }
  $("trace-missing").hidden = true;
  const s = d.summary;
  $("trace-title").replaceChildren("Trace ", el("span", { class: "mono", text: s.trace_id }), " ",
    s.error ? el("span", { class: "badge err", text: s.error_spans + " error spans" }) : el("span", { class: "badge ok", text: "ok" }));
  $("trace-meta").textContent = `${s.root_service} · ${s.root_resource} · ${s.spans} spans · ${fmtDur(s.duration_us)} · started ${fmtTimeUs(s.start)} · source ${(s.sources || []).join(", ")} · services ${(s.services || []).join(", ")}`;
  const total = Math.max(Number(s.duration_us) || 0, 1);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el("span", { style: { left: `${f * 100}%` }, text: fmtDur(Math.round(total * f)) }));
  const rows = d.spans.map((sp) => {
    const left = (Number(sp.offset_us) / total) * 100;
    const width = Math.max((Number(sp.duration_us) / total) * 100, 0.2);
    const durPos = left + width > 85 ? { right: `${100 - left}%` } : { left: `${left + width}%` };
    const cls = ["span-row", sp.error ? "error" : "", sp.span_id === state.selectedSpan ? "selected" : ""].join(" ").trim();
    return el("div", { class: cls, "data-span-id": sp.span_id, "data-depth": sp.depth, "data-error": sp.error ? "true" : "false", title: sp.resource, onclick: () => selectSpan(d, sp) },
      el("div", { class: "label", style: { paddingLeft: `${6 + sp.depth * 16}px` } },
        el("span", { class: "svc", text: sp.service }), el("span", { class: "res", text: sp.resource }),
        sp.orphan ? el("span", { class: "badge", title: "its parent " + sp.parent_id + " is not in this trace", text: "orphan" }) : null,
        sp.duplicate ? el("span", { class: "badge", text: "duplicate" }) : null),
      el("div", { class: "track" },
        el("div", { class: "bar", style: { left: `${left}%`, width: `${width}%` } }),
        el("span", { class: "dur", style: durPos, text: fmtDur(sp.duration_us) })));
  });
  $("waterfall").replaceChildren(el("div", { class: "axis" }, el("div", { class: "muted", text: "service · resource" }), el("div", { class: "ticks" }, ticks)), ...rows);
  const sel = d.spans.find((sp) => sp.span_id === state.selectedSpan);
  if (sel) showAttrs(sel);
}

function selectSpan(d, sp) {
  state.selectedSpan = sp.span_id;
  for (const r of $("waterfall").querySelectorAll(".span-row")) r.classList.toggle("selected", r.dataset.spanId === sp.span_id);
  showAttrs(sp);
}

function showAttrs(sp) {
  const row = (k, v, cls) => el("tr", { class: cls }, el("td", { text: k }), el("td", { text: fmtValue(v) }));
  const head = [["span_id", sp.span_id], ["parent_id", sp.parent_id], ["service", sp.service], ["resource", sp.resource],
    ["operation", sp.operation], ["status", sp.status], ["source", sp.source], ["span_type", sp.span_type], ["source_type", sp.source_type],
    ["start", fmtTimeUs(sp.start_us) + " (" + sp.start_us + " µs)"], ["duration", fmtDur(sp.duration_us)], ["arrived via", sp.via]];
  $("span-attrs").replaceChildren(
    el("h3", { text: sp.service + " · " + sp.resource }),
    el("table", { id: "span-summary" }, el("tbody", {}, head.filter(([, v]) => v !== "" && v !== undefined).map(([k, v]) => row(k, v)))),
    el("h4", { text: "Tags" }),
    el("table", { id: "span-tags" }, el("tbody", {}, Object.keys(sp.tags || {}).sort().map((k) => row(k, sp.tags[k], "tag")))),
    el("h4", { text: "Fields" }),
    el("table", { id: "span-fields" }, el("tbody", {}, Object.keys(sp.fields || {}).sort().map((k) => row(k, sp.fields[k], "field")))));
}

// ---- writes per category ----

async function renderWrites() {
  await refreshStoreLine();
  const q = new URLSearchParams({ limit: "200" });
  if (state.category) q.set("category", state.category);
  let w = await getJSON("/v1/_sim/writes?" + q.toString());
  const cats = Object.keys(w.categories).sort();
  if (!state.category && cats.length) {
    state.category = cats.includes("metric") ? "metric" : cats[0];
    q.set("category", state.category);
    w = await getJSON("/v1/_sim/writes?" + q.toString());
  }
  $("write-cats").replaceChildren(...cats.map((c) => el("button", { type: "button", "data-category": c, class: c === state.category ? "active" : "",
    onclick: () => { state.category = c; refresh(); } }, `${c} (${w.categories[c]})`)));
  replaceRows($("write-points").tBodies[0], w.points.map((p) => el("tr", {},
    el("td", { text: fmtTimeNs(p.time) }), el("td", { text: p.measurement }), el("td", {}, kvList(p.tags)), el("td", {}, kvList(p.fields)))));
  $("writes-empty").hidden = cats.length > 0;
}

// ---- tail sampling ----

async function renderTailSampling() {
  await refreshStoreLine();
  const groups = await getJSON("/v1/_sim/tail_sampling_groups?limit=500");
  const preds = (g) => [["has_error", g.has_error], ["pred_error", g.pred_error], ["pred_http_error", g.pred_http_error],
    ["pred_biz_error", g.pred_biz_error], ["pred_trace_keep", g.pred_trace_keep]].map(([k, on]) =>
    el("span", { class: on ? "badge err" : "badge", title: on ? "true in at least one packet" : "false in every packet", text: k + (on ? " ✓" : " ✗") }));
  replaceRows($("ts-groups").tBodies[0], groups.map((g) => {
    const name = g.raw_group_id || g.group_key || "(none)";
    const group = g.data_type === "tracing" && g.raw_group_id
      ? el("a", { class: "mono", href: "#/trace/" + encodeURIComponent(g.raw_group_id), text: name })
      : el("span", { class: "mono", text: (g.group_key ? g.group_key + ": " : "") + name });
    return el("tr", { "data-group": name },
      el("td", { text: fmtTimeNs(g.last) }), el("td", { text: g.data_type }), el("td", {}, group), el("td", { text: g.source }),
      el("td", { class: "num", text: g.packets }), el("td", { class: "num", text: g.points }), el("td", {}, preds(g)),
      el("td", { class: "num", text: fmtDur(g.max_span_duration_us) }), el("td", { class: "num", text: fmtDur(g.root_duration_us) }),
      el("td", { text: g.config_version }));
  }));
  $("ts-empty").hidden = groups.length > 0;
}

// ---- aggregate ----

async function renderAggregate() {
  await refreshStoreLine();
  const all = await getJSON("/v1/_sim/aggregate");
  const recs = all.slice(-100).reverse();
  $("aggr-list").replaceChildren(...recs.map((a) => {
    const batchs = (a.batchs && a.batchs.batchs) || [];
    return el("div", { class: "aggr" },
      el("h4", { text: `${fmtTimeNs(a.time)} · ${batchs.length} batches · ${a.points.length} points · pick key ${(a.headers || {})["Guance-Pick-Key"] || ""}` }),
      batchs.map((b) => el("div", {}, el("span", { class: "muted", text: `routing_key ${b.routing_key} · ` }),
        Object.keys(b.aggregation_opts || {}).sort().map((k) => {
          const o = b.aggregation_opts[k];
          return el("span", { class: "badge", text: `${k} = ${o.method}(${o.source_field}) window ${fmtDur(Math.round(Number(o.window) / 1000))}` });
        }))),
      el("table", { class: "grid" }, el("tbody", {}, a.points.map((p) => el("tr", {},
        el("td", { text: p.measurement }), el("td", {}, kvList(p.tags)), el("td", {}, kvList(p.fields)))))));
  }));
  $("aggr-empty").hidden = recs.length > 0;
}

// ---- counters ----

async function renderStats() {
  const [stats, st] = await Promise.all([getJSON("/v1/_sim/stats"), refreshStoreLine()]);
  const eps = stats.endpoints || {};
  replaceRows($("endpoint-stats").tBodies[0], Object.keys(eps).sort().map((path) => {
    const e = eps[path];
    return el("tr", { "data-endpoint": path },
      el("td", { class: "mono", text: path }), el("td", { class: "num", text: e.requests }), el("td", { class: "num", text: e.bodies }),
      el("td", { class: "num", text: fmtBytes(e.bytes) }), el("td", { class: "num", text: fmtBytes(e.raw_bytes) }),
      el("td", { class: "num", text: e.points }),
      el("td", {}, Object.keys(e.statuses || {}).sort().map((c) => el("span", { class: c.startsWith("2") ? "badge ok" : "badge err", text: `${c} × ${e.statuses[c]}` }))));
  }));
  $("bounds").replaceChildren(
    el("p", { text: `Points: ${stats.points_stored} stored, ${stats.points_evicted} evicted (oldest first, past dataway-sim -max-points).` }),
    el("p", { text: `Traces: ${st.traces} kept (${st.spans} spans), at most ${st.max_traces} (dataway-sim -max-traces); ${st.evicted_traces} evicted with ${st.evicted_spans} spans; ${st.dropped_spans} spans dropped past ${st.max_spans_per_trace} in one trace; ${st.untraced_points} tracing points had no trace_id.` }),
    el("p", { text: `Also stored: ${stats.aggregates} aggregate bodies, ${stats.tail_sampling_packets} tail-sampling packets, ${stats.tail_sampling_configs} tail-sampling configs.` }));
  replaceRows($("evicted").tBodies[0], (st.last_evicted || []).slice().reverse().map((t) => el("tr", {},
    el("td", { class: "mono", text: t.trace_id }), el("td", { text: t.root_service }), el("td", { text: t.root_resource }),
    el("td", { class: "num", text: t.spans }), el("td", { text: t.source }))));
}

// ---- routing and polling ----

const views = { traces: renderTraces, trace: renderTrace, writes: renderWrites, tail_sampling: renderTailSampling, aggregate: renderAggregate, stats: renderStats };

function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [name, ...rest] = h.split("/");
  state.view = views[name] ? name : "traces";
  if (state.view === "trace") {
    const id = decodeURIComponent(rest.join("/"));
    if (id !== state.traceId) state.selectedSpan = "";
    state.traceId = id;
  }
  for (const v of document.querySelectorAll("section.view")) v.hidden = v.id !== "view-" + state.view;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === (state.view === "trace" ? "traces" : state.view));
  refresh();
}

async function refresh() {
  clearTimeout(state.timer);
  const seq = ++state.seq;
  try {
    await views[state.view]();
    document.body.dataset.error = "";
  } catch (e) {
    document.body.dataset.error = String(e.message || e);
    $("store-line").textContent = "cannot reach dataway-sim: " + (e.message || e);
  }
  // A newer refresh (a click, a filter change) owns the timer.
  if (seq !== state.seq) return;
  const live = state.view !== "traces" || $("f-live").checked;
  if (live) state.timer = setTimeout(refresh, POLL_MS);
}

function init() {
  $("curl-example").textContent = [
    "curl -sS http://127.0.0.1:9529/otel/v1/traces -H 'Content-Type: application/json' -d '{\"resourceSpans\": [{",
    '  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},',
    '  "scopeSpans": [{"spans": [',
    '    {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "GET /cart", "kind": 2,',
    '     "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000250000000"},',
    '    {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174",',
    '     "name": "SELECT cart", "kind": 3, "status": {"code": 2, "message": "timeout"},',
    '     "startTimeUnixNano": "1700000000020000000", "endTimeUnixNano": "1700000000180000000"}]}]}]}\'',
  ].join("\n");
  let debounce = 0;
  $("filters").addEventListener("input", (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(refresh, e.target.id === "f-q" ? 250 : 0);
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", init);
