/**
 * The sensor's live page, served by the REST API at `/ui`: ingest rate and drops, active bans
 * (click one for its evidence and sample requests), top offenders, projection modes per domain,
 * and events per filter over time. One HTML string with inline CSS and JS, nothing fetched from
 * elsewhere (a `Content-Security-Policy` with a per-answer nonce says so to the browser). The page
 * polls the API (`/metrics`, `/bans`, `/filters`, `/stats/<domain>`, `/bans/<domain>/<ip>`) and
 * draws rates from the counters' deltas as inline SVG. Text that comes from traffic (IPs, URLs,
 * User-Agents, event names) is only ever inserted with `textContent` or as an attribute value,
 * never as HTML. With an API token the page takes it once as `?token=`, keeps it in
 * sessionStorage and sends it as `Authorization: Bearer`.
 * @module
 */
import { PAGE_DOM_JS } from "../../shared/http/page_dom.ts";

const css = String.raw`
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#f6f7fa; --card:#fff; --accent:#2f6fde;
  --ok:#1f8a4c; --bad:#c23b32; --warn:#b7791f; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--fg); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:10px 20px; display:flex; align-items:center;
  gap:28px; flex-wrap:wrap; }
header h1 { margin:0; font-size:18px; }
header h1 small { color:#aab3c5; font-weight:400; font-size:12px; margin-left:6px; }
.kpi { display:flex; flex-direction:column; line-height:1.15; }
.kpi b { font-size:20px; font-variant-numeric: tabular-nums; }
.kpi span { color:#aab3c5; font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
.kpi.bad b { color:#ff8a80; }
#status { margin-left:auto; color:#aab3c5; font-size:12px; max-width:40em; }
#status.error { color:#ffb4a9; }
main { padding:16px 20px; display:grid; gap:16px; grid-template-columns: minmax(0,3fr) minmax(0,2fr);
  align-items:start; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 14px; min-width:0;
  overflow-x:auto; }
section.wide { grid-column: 1 / -1; }
h2 { font-size:15px; margin:0 0 8px; display:flex; gap:10px; align-items:baseline; }
h2 small { color:var(--muted); font-weight:400; font-size:12px; }
h3 { font-size:13px; margin:12px 0 4px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:3px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.wrap { white-space:normal; overflow-wrap:anywhere; }
td.host { white-space:normal; overflow-wrap:break-word; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
th { color:var(--muted); font-weight:600; }
tr.ban, tr.offender { cursor:pointer; }
tr.ban:hover td, tr.offender:hover td { background:#f1f5fd; }
tr.sel td { background:#eaf1fd; }
.muted { color:var(--muted); }
.tag { display:inline-block; border-radius:10px; padding:0 7px; font-size:11px; border:1px solid var(--line); }
.tag.simulated { border-color:var(--warn); color:var(--warn); }
.tag.block { border-color:var(--bad); color:var(--bad); }
.tag.watch { border-color:var(--warn); color:var(--warn); }
.tag.nursery { border-color:var(--ok); color:var(--ok); }
.tag.zero { border-color:var(--line); color:var(--muted); }
.mode-names { display:block; color:var(--muted); font-size:11px; white-space:normal; }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; font-size:12px; margin-top:4px; }
.legend span.item { display:inline-flex; align-items:center; gap:5px; }
.legend b { font-weight:600; font-variant-numeric: tabular-nums; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg line.grid { stroke: var(--line); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0; font-size:13px; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; overflow-wrap:anywhere; }
.ev { border-top:1px solid var(--line); padding-top:8px; margin-top:8px; }
.ev:first-of-type { border-top:0; margin-top:0; padding-top:0; }
`;

// The client script. No backticks and no `${` but the shared helpers: this is a template literal.
const js = String.raw`
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let token = "";
try {
  // The token comes once in the address (?token=…); keep it for this tab, out of the address bar.
  if (params.has("token")) {
    sessionStorage.setItem("qts-token", params.get("token") || "");
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  token = sessionStorage.getItem("qts-token") || "";
} catch (e) {
  token = params.get("token") || "";
}
const every = Math.min(60, Math.max(0.5, Number(params.get("every")) || 2)) * 1000;
const KEEP = 150;          // points kept per series (5 minutes at the default 2 s)
const MAX_DOMAINS = 30;    // domains whose /stats are polled
const MAX_BANS = 200;      // ban rows drawn
const MAX_SERIES = 8;      // event families drawn; the rest are summed as "other"
const palette = ["#2f6fde","#c23b32","#1f8a4c","#b7791f","#7b4fd6","#0f8b8d","#d6529a","#5b6475","#8aa324","#e07b39"];
// Event names → the filter that emits them (qts_filter_events_total is labelled by event only).
const FAMILIES = [
  [/^loc_rate_/, "limit_req_mc"],
  [/^status_/, "response_status"],
  [/^(probe_|scanner_ua$)/, "probe_detector"],
  [/^fake_crawler$/, "trusted_sources"],
  [/^many_uas$/, "many_uas"],
  [/^hash_score_/, "request_hash_score"],
  [/^geo_zone_/, "geo_zones"],
  [/^fixed_/, "fixed_lists"],
  [/^lua_/, "lua"],
  [/^ua_(empty|bot|tool|mobile)$/, "ua_parser"],
];
function familyOf(event) {
  for (const [re, name] of FAMILIES) if (re.test(event)) return name;
  return event;
}

const S = {
  prev: null,              // last counter sample
  times: [],               // sample times (ms) of the points below
  families: new Map(),     // family → events/s per point
  names: new Map(),        // family → Set of event names seen
  ingest: { "records/s": [], "drops/s": [] },
  domainRate: new Map(),   // domain → records/s at the last point
  bans: [],
  selected: null,          // { ip, domain? }
  timer: 0,
};

${PAGE_DOM_JS}
const pad = (n) => String(n).padStart(2, "0");
function clock(ms) {
  const d = new Date(ms);
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}
function stamp(ms) {
  const d = new Date(ms);
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(ms);
}
function span(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return s + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " d";
}
function num(v) {
  if (!isFinite(v)) return "—";
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
}
function table(head, rows, numeric) {
  const tr = el("tr", {}, ...head.map((h, i) => el("th", { class: numeric && numeric.includes(i) ? "num" : null }, h)));
  return el("table", {}, el("thead", {}, tr), el("tbody", {}, ...rows));
}

async function get(path, asText) {
  const r = await fetch(path, { headers: token ? { authorization: "Bearer " + token } : {}, cache: "no-store" });
  if (!r.ok) {
    let message = "HTTP " + r.status;
    try {
      const body = await r.json();
      if (body && typeof body.exception === "string") message = body.exception;
    } catch (e) { /* not JSON */ }
    const error = new Error(message);
    error.status = r.status;
    throw error;
  }
  return asText ? await r.text() : (await r.json()).data;
}

/** Prometheus text → [{ name, labels, value }]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The counters the page draws, summed from one /metrics answer. */
function counters(metrics) {
  const c = { records: 0, drops: 0, dropsBy: {}, domains: {}, families: {} };
  for (const { name, labels, value } of metrics) {
    if (!isFinite(value)) continue;
    if (name === "qts_records_total") {
      c.records += value;
      c.domains[labels.domain] = (c.domains[labels.domain] || 0) + value;
    } else if (name === "qts_input_dropped_total") {
      c.drops += value;
      c.dropsBy[labels.reason] = (c.dropsBy[labels.reason] || 0) + value;
    } else if (name === "qts_filter_events_total") {
      const f = familyOf(labels.event || "");
      c.families[f] = (c.families[f] || 0) + value;
      if (!S.names.has(f)) S.names.set(f, new Set());
      S.names.get(f).add(labels.event || "");
    }
  }
  return c;
}

// A counter's rate between two samples; a restarted sensor (counter went down) counts from 0.
const rate = (now, before, dt) => Math.max(0, now - (now < before ? 0 : before)) / dt;

function addSample(t, c) {
  const p = S.prev;
  S.prev = { t, c };
  if (!p) return;
  const dt = Math.max(0.001, (t - p.t) / 1000);
  S.times.push(t);
  S.ingest["records/s"].push(rate(c.records, p.c.records, dt));
  S.ingest["drops/s"].push(rate(c.drops, p.c.drops, dt));
  const n = S.times.length;
  for (const f of Object.keys(c.families)) {
    if (!S.families.has(f)) S.families.set(f, new Array(n - 1).fill(0));
  }
  for (const [f, values] of S.families) values.push(rate(c.families[f] || 0, p.c.families[f] || 0, dt));
  for (const [d, v] of Object.entries(c.domains)) S.domainRate.set(d, rate(v, p.c.domains[d] || 0, dt));
  if (n > KEEP) {
    S.times.shift();
    for (const values of S.families.values()) values.shift();
    for (const values of Object.values(S.ingest)) values.shift();
  }
}

/** Lines over time: series [{ name, values }] aligned with times. */
function lineChart(target, times, series, opts) {
  target.replaceChildren();
  if (times.length === 0) {
    target.append(el("p", { class: "muted" }, "Collecting: the first point comes after two polls (every " + every / 1000 + " s)."));
    return;
  }
  const width = Math.max(320, target.clientWidth || 800), height = opts.height || 200;
  const left = 46, right = 10, top = 8, bottom = 20;
  const t0 = Math.min(times[0], times[times.length - 1] - every), t1 = times[times.length - 1];
  let max = 0;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  const yMax = niceCeil(max);
  const x = (t) => left + (width - left - right) * (t - t0) / Math.max(1, t1 - t0);
  const y = (v) => top + (height - top - bottom) * (1 - v / yMax);
  const svg = svgEl("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": opts.title });
  for (const f of [0, 0.5, 1]) {
    const v = yMax * f;
    svg.append(svgEl("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    svg.append(svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)));
  }
  svg.append(svgEl("text", { x: left, y: height - 4 }, clock(t0)));
  svg.append(svgEl("text", { x: width - right, y: height - 4, "text-anchor": "end" }, clock(t1)));
  series.forEach((s, i) => {
    const color = s.color || palette[i % palette.length];
    const points = s.values.map((v, j) => x(times[j]).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    const peak = Math.max(0, ...s.values);
    const attrs = { class: "series", "data-series": s.name, "data-max": peak.toFixed(3), stroke: color,
      "stroke-width": 2, fill: "none", "stroke-linejoin": "round", points };
    const line = svgEl("polyline", attrs);
    line.append(svgEl("title", {}, s.name + ": peak " + num(peak) + "/s"));
    svg.append(line);
    if (s.values.length === 1) svg.append(svgEl("circle", { cx: x(times[0]), cy: y(s.values[0]), r: 3, fill: color }));
  });
  target.append(svg);
  const legend = el("div", { class: "legend" });
  series.forEach((s, i) => {
    const swatch = svgEl("svg", { width: 12, height: 12 });
    swatch.append(svgEl("rect", { width: 12, height: 12, rx: 2, fill: s.color || palette[i % palette.length] }));
    const last = s.values[s.values.length - 1] || 0;
    legend.append(el("span", { class: "item", title: s.title || s.name }, swatch, s.name, " ", el("b", {}, num(last) + "/s")));
  });
  if (series.length === 0) legend.append(el("span", { class: "muted" }, opts.empty || "No series"));
  target.append(legend);
}
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function drawCharts() {
  const total = (values) => values.reduce((a, b) => a + b, 0);
  const ranked = [...S.families.entries()].sort((a, b) => total(b[1]) - total(a[1]) || (a[0] < b[0] ? -1 : 1));
  const series = ranked.slice(0, MAX_SERIES).map(([name, values]) => ({
    name, values, title: name + ": " + [...(S.names.get(name) || [])].sort().join(", "),
  }));
  if (ranked.length > MAX_SERIES) {
    const rest = ranked.slice(MAX_SERIES);
    series.push({ name: "other", values: S.times.map((_, j) => rest.reduce((a, [, v]) => a + (v[j] || 0), 0)),
      title: rest.map(([n]) => n).join(", ") });
  }
  lineChart($("events-chart"), S.times, series, { title: "Events per filter, per second", height: 220,
    empty: "No filter events yet" });
  lineChart($("ingest-chart"), S.times, [
    { name: "records/s", values: S.ingest["records/s"], color: "#2f6fde" },
    { name: "drops/s", values: S.ingest["drops/s"], color: "#c23b32" },
  ], { title: "Ingest rate and drops, per second", height: 160 });
}

function drawHeader(c) {
  // Header rates: the mean of the last 10 s (at least the last point), steadier than one poll.
  const recent = (a) => {
    const from = S.times.length ? S.times[S.times.length - 1] - 10000 : 0;
    const values = a.filter((_, j) => S.times[j] >= from);
    return values.length ? values.reduce((x, y) => x + y, 0) / values.length : NaN;
  };
  $("k-rate").textContent = num(recent(S.ingest["records/s"]));
  $("k-records").textContent = num(c.records);
  $("k-drops").textContent = num(c.drops);
  $("k-droprate").textContent = num(recent(S.ingest["drops/s"]));
  $("kpi-drops").classList.toggle("bad", recent(S.ingest["drops/s"]) > 0);
  $("k-bans").textContent = num(S.bans.filter((b) => !b.simulated).length);
  const reasons = Object.entries(c.dropsBy).sort((a, b) => b[1] - a[1]);
  $("drops").replaceChildren(reasons.length === 0 ? el("p", { class: "muted" }, "No input dropped") :
    table(["Drop reason", "Dropped"], reasons.map(([r, n]) => el("tr", {}, el("td", {}, r), el("td", { class: "num" }, num(n)))), [1]));
}

function drawBans() {
  const bans = [...S.bans].sort((a, b) => b.added_at - a.added_at || (a.ip < b.ip ? -1 : 1));
  $("bans-count").textContent = bans.length + " active" + (bans.length > MAX_BANS ? ", newest " + MAX_BANS + " shown" : "");
  if (bans.length === 0) { $("bans").replaceChildren(el("p", { class: "muted" }, "No active bans")); return; }
  const now = Date.now();
  const rows = bans.slice(0, MAX_BANS).map((b) => {
    const sel = S.selected && S.selected.ip === b.ip && S.selected.domain === b.domain_id;
    return el("tr", { class: "ban" + (sel ? " sel" : ""), "data-ip": b.ip, "data-domain": b.domain_id,
        onclick: () => select({ ip: b.ip, domain: b.domain_id }) },
      el("td", { title: stamp(b.added_at) }, clock(b.added_at)),
      el("td", {}, b.domain_id),
      el("td", {}, b.ip),
      el("td", {}, b.projection, b.simulated ? " " : null, b.simulated ? el("span", { class: "tag simulated" }, "simulated") : null),
      el("td", {}, b.rule_name),
      el("td", {}, b.reason || "—"),
      el("td", { class: "num" }, b.events),
      el("td", { title: stamp(b.expires_at) }, b.expires_at > now ? "in " + span(b.expires_at - now) : "expired"));
  });
  $("bans").replaceChildren(table(["Added", "Domain", "IP", "Projection", "Rule", "Reason", "Events", "Expires"], rows, [6]));
}

function drawOffenders() {
  const by = new Map();
  for (const b of S.bans) {
    let o = by.get(b.ip);
    if (!o) by.set(b.ip, o = { ip: b.ip, bans: 0, events: 0, projections: new Set(), domains: new Set() });
    o.bans++;
    o.events += Number(b.events) || 0;
    o.projections.add(b.projection);
    o.domains.add(b.domain_id);
  }
  const top = [...by.values()].sort((a, b) => b.bans - a.bans || b.events - a.events || (a.ip < b.ip ? -1 : 1)).slice(0, 10);
  if (top.length === 0) { $("offenders").replaceChildren(el("p", { class: "muted" }, "No active bans")); return; }
  const max = Math.max(...top.map((o) => o.events), 1);
  const rows = top.map((o) => {
    const bar = svgEl("svg", { width: 120, height: 10 });
    bar.append(svgEl("rect", { width: Math.max(2, Math.round(120 * o.events / max)), height: 10, rx: 2, fill: "#c23b32" }));
    return el("tr", { class: "offender" + (S.selected && S.selected.ip === o.ip && S.selected.domain === undefined ? " sel" : ""),
        "data-ip": o.ip, onclick: () => select({ ip: o.ip }) },
      el("td", {}, o.ip), el("td", { class: "num" }, o.bans), el("td", { class: "num" }, o.events), el("td", {}, bar),
      el("td", { class: "wrap" }, [...o.projections].sort().join(", ")), el("td", {}, [...o.domains].sort((a, b) => a - b).join(", ")));
  });
  $("offenders").replaceChildren(table(["IP", "Bans", "Events", "", "Projections", "Domains"], rows, [1, 2]));
}

function drawModes(stats, more) {
  if (stats.length === 0) { $("modes").replaceChildren(el("p", { class: "muted" }, "No domains")); return; }
  const rows = stats.map((s) => {
    if (s.error) return el("tr", {}, el("td", {}, s.domain_id), el("td", { colspan: 8, class: "muted" }, s.error));
    const by = { nursery: [], watch: [], block: [], disabled: [] };
    let events = 0;
    for (const [name, p] of Object.entries(s.projections || {})) {
      (by[p.mode] || (by[p.mode] = [])).push(name);
      events += Number(p.events) || 0;
    }
    const cell = (mode, listNames) => el("td", { class: "mode-" + mode, title: by[mode].join(", ") },
      el("span", { class: "tag " + mode + (by[mode].length === 0 ? " zero" : "") }, by[mode].length),
      listNames && by[mode].length ? el("span", { class: "mode-names" }, by[mode].sort().join(", ")) : null);
    const simulated = S.bans.filter((b) => b.domain_id === s.domain_id && b.simulated).length;
    return el("tr", { "data-domain": s.domain_id },
      el("td", {}, s.domain_id),
      el("td", { class: "num" }, num(S.domainRate.get(String(s.domain_id)) ?? NaN)),
      cell("nursery", true), cell("watch", true), cell("block", false), cell("disabled", false),
      el("td", { class: "num" }, simulated), el("td", { class: "num" }, s.bans), el("td", { class: "num" }, events));
  });
  const t = table(["Domain", "Records/s", "Nursery", "Watch", "Block", "Disabled", "Simulated bans", "Active bans", "Events (window)"], rows, [1, 6, 7, 8]);
  $("modes").replaceChildren(t, more > 0 ? el("p", { class: "muted" }, more + " more domains not shown") : "");
}

function select(sel) {
  S.selected = sel;
  drawBans();
  drawOffenders();
  $("evidence").replaceChildren(el("p", { class: "muted" }, "Loading " + sel.ip + "…"));
  loadEvidence();
}

async function loadEvidence() {
  const sel = S.selected;
  if (!sel) return;
  // A network ban (an IPv6 /64) is explained for an address inside it: its first one.
  const ip = encodeURIComponent(sel.ip.split("/")[0]);
  const path = sel.domain !== undefined ? "/bans/" + sel.domain + "/" + ip : "/ips/" + ip;
  let d;
  try {
    d = await get(path);
  } catch (e) {
    if (S.selected !== sel) return;
    // No evidence to read (the ban just ended, a poll failed): show what /bans says.
    const own = S.bans.filter((b) => b.ip === sel.ip && (sel.domain === undefined || b.domain_id === sel.domain));
    $("evidence-title").textContent = "Evidence: " + sel.ip;
    $("evidence").replaceChildren(el("p", { class: "muted" }, "No evidence: " + e.message),
      ...own.map((b) => banFacts(b, null)));
    return;
  }
  if (S.selected !== sel) return;
  $("evidence-title").textContent = "Evidence: " + sel.ip;
  const parts = d.bans.length === 0 ? [el("p", { class: "muted" }, "No active ban")] : d.bans.map((b) => banFacts(b, b.evidence));
  const history = (d.history || []).slice(-20).reverse();
  if (history.length > 0) {
    parts.push(el("h3", {}, "History"), table(["At", "Domain", "Action", "Rule", "Projection", "Comment"], history.map((h) =>
      el("tr", {}, el("td", { title: stamp(h.at) }, clock(h.at)), el("td", {}, h.domain_id), el("td", {}, h.action),
        el("td", {}, h.rule_name), el("td", {}, h.projection), el("td", { class: "wrap" }, h.comment)))));
  }
  $("evidence").replaceChildren(...parts);
}

function banFacts(b, ev) {
  const now = Date.now();
  const facts = el("dl", { class: "facts" });
  const fact = (k, ...v) => facts.append(el("dt", {}, k), el("dd", {}, ...v));
  fact("Domain", b.domain_id);
  fact("Rule", b.rule_name, b.simulated ? " " : null, b.simulated ? el("span", { class: "tag simulated" }, "simulated") : null);
  fact("Added", stamp(b.added_at));
  fact("Expires", stamp(b.expires_at) + (b.expires_at > now ? " (in " + span(b.expires_at - now) + ")" : " (expired)"));
  fact("Comment", b.comment || "—");
  if (ev) {
    fact("Mode", el("span", { class: "tag " + ev.mode }, ev.mode));
    const c = ev.mode_change;
    if (c) {
      fact("Mode since", stamp(c.at) + ", from " + c.from + ": " + (c.why === "nursery" || c.why === "activation"
        ? "its " + c.why + " threshold was reached, " + c.events + " events from " + c.ips + " sources in a 30 s window"
        : c.why === "cooldown" ? "no event for its cooldown" : "its configuration changed"));
    }
    fact("Reason", ev.reason + (ev.threshold ? ": " + ev.threshold.events + " events within " + ev.threshold.window + " s" : ""));
    fact("Events", Object.entries(ev.events || {}).map(([n, c]) => n + " ×" + c).join(", ") || "—", " (" + ev.count + " in all)");
    fact("Seen", stamp(ev.first_at) + " … " + clock(ev.last_at) + " (" + span(ev.last_at - ev.first_at) + ")");
  } else {
    fact("Reason", b.reason || "—");
    fact("Events", b.events);
  }
  const box = el("div", { class: "ev", "data-ip": b.ip, "data-projection": b.projection },
    el("h3", {}, b.projection + " · " + b.ip), facts);
  if (ev && ev.samples && ev.samples.length > 0) {
    box.append(el("h3", {}, "Sample requests"), table(["Method", "Host", "URL", "Status", "User-Agent"], ev.samples.map((s) =>
      el("tr", { class: "sample" }, el("td", {}, s.method), el("td", { class: "host" }, s.host), el("td", { class: "wrap sample-url" }, s.url),
        el("td", {}, s.status || "—"), el("td", { class: "wrap" }, s.ua)))));
  }
  return box;
}

async function poll() {
  clearTimeout(S.timer);
  const t = Date.now();
  try {
    const [text, bans, domains] = await Promise.all([get("/metrics", true), get("/bans"), get("/filters")]);
    const c = counters(parseMetrics(text));
    addSample(t, c);
    S.bans = bans;
    const ids = [...new Set([...domains, ...bans.map((b) => b.domain_id)])].sort((a, b) => a - b);
    const stats = await Promise.all(ids.slice(0, MAX_DOMAINS).map((id) =>
      get("/stats/" + id).catch((e) => ({ domain_id: id, error: e.message }))));
    drawHeader(c);
    drawCharts();
    drawBans();
    drawOffenders();
    drawModes(stats, ids.length - MAX_DOMAINS);
    if (!S.selected && bans.length > 0) {
      const newest = bans.reduce((a, b) => b.added_at > a.added_at ? b : a);
      S.selected = { ip: newest.ip, domain: newest.domain_id };
      drawBans();
    }
    await loadEvidence();
    $("status").className = "";
    $("status").textContent = "updated " + clock(t) + " · every " + every / 1000 + " s";
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (e) {
    $("status").className = "error";
    $("status").textContent = e.status === 401
      ? "The API needs its token: open this page as /ui?token=<api_token>"
      : "Poll failed at " + clock(t) + ": " + e.message;
  }
  S.timer = setTimeout(poll, every);
}

poll();
`;

const NONCE_PLACEHOLDER = "__QTS_NONCE__";

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>qts live</title>
<link rel="icon" href="data:,">
<style nonce="${NONCE_PLACEHOLDER}">${css}</style>
</head>
<body>
<header>
<h1>qts<small>live</small></h1>
<div class="kpi"><b id="k-rate">—</b><span>records/s (10 s)</span></div>
<div class="kpi"><b id="k-records">—</b><span>records</span></div>
<div class="kpi" id="kpi-drops"><b id="k-drops">—</b><span>dropped</span></div>
<div class="kpi"><b id="k-droprate">—</b><span>drops/s (10 s)</span></div>
<div class="kpi"><b id="k-bans">—</b><span>active bans</span></div>
<span id="status">Loading…</span>
</header>
<main>
<section class="wide"><h2>Events per filter <small>per second, from qts_filter_events_total</small></h2><div id="events-chart"></div></section>
<section><h2>Active bans <small id="bans-count"></small></h2><div id="bans"><p class="muted">Loading…</p></div></section>
<section><h2 id="evidence-title">Evidence</h2><div id="evidence"><p class="muted">Choose a ban or an offender</p></div></section>
<section><h2>Top offenders <small>by bans, then events</small></h2><div id="offenders"></div></section>
<section><h2>Ingest <small>records and drops per second</small></h2><div id="ingest-chart"></div><div id="drops"></div></section>
<section class="wide"><h2>Projection modes per domain</h2><div id="modes"></div></section>
</main>
<script nonce="${NONCE_PLACEHOLDER}">${js}</script>
</body>
</html>
`;

/** Options of {@linkcode livePage}. */
export interface LivePageOptions {
  /** The CSP nonce of the inline style and script. Default: 16 random bytes, base64. */
  nonce?: string;
}

/** The `Content-Security-Policy` of the page: nothing but itself and its own API. */
function livePagePolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The live page's answer: its HTML with a fresh nonce on the inline style and script, a CSP
 * that allows nothing else, and headers that keep it out of caches, frames and referrers.
 *
 * @example
 * ```ts
 * import { livePage } from "./live_page.ts";
 * const response = livePage({ nonce: "abc" });
 * console.log(response.headers.get("content-security-policy"));
 * ```
 */
export function livePage(options: LivePageOptions = {}): Response {
  const nonce = options.nonce ??
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  return new Response(html.replaceAll(NONCE_PLACEHOLDER, nonce), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": livePagePolicy(nonce),
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
    },
  });
}
