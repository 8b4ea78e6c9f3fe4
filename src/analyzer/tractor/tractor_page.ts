/**
 * The TrActor single page, served at `/`: captures and their jobs; for the chosen job (the latest
 * finished one unless the URL names one: `?job=N&client=IP`, a link to share) flows per label, top
 * clients by requests, a timeline of traffic stacked by label, a sortable client table (flows,
 * packets, bytes, duration, requests, User-Agents, hosts, URLs, status codes, labels), a client's
 * details and its flows, paged. One HTML string with inline CSS and JS and inline SVG charts (no
 * build step, nothing fetched from the internet); it reads the API under `v1/`. Every number
 * carries its unit. Capture-derived text (user agents, URLs, comments, domains) is only ever
 * inserted with `textContent`, never as HTML.
 */
import { PAGE_DOM_JS } from "../../shared/http/page_dom.ts";

const css = `
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#f6f7fa; --card:#fff; --accent:#2f6fde;
  --ok:#1f8a4c; --bad:#c23b32; --run:#b7791f; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--fg); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:10px 20px; display:flex; align-items:baseline; gap:16px; }
header h1 { margin:0; font-size:18px; }
header span { color:#aab3c5; font-size:12px; }
main { padding:16px 20px; display:grid; gap:16px; grid-template-columns: 1fr 1fr; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 14px; min-width:0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size:15px; margin:0 0 8px; }
h3 { font-size:13px; margin:10px 0 4px; color:var(--muted); }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
td.wrap { white-space:normal; word-break:break-all; }
td.list { white-space:normal; max-width:280px; }
td.list div { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; max-width:280px; }
th { color:var(--muted); font-weight:600; }
th.sortable { cursor:pointer; user-select:none; }
th.sortable:hover { color:var(--accent); }
th.sorted { color:var(--fg); }
tr.sel td { background:#eaf1fd; }
.state { font-weight:600; }
.state.finished { color:var(--ok); } .state.failed { color:var(--bad); }
.state.in_progress, .state.new { color:var(--run); }
button { font:inherit; font-size:12px; padding:2px 8px; border:1px solid var(--accent);
  background:#fff; color:var(--accent); border-radius:4px; cursor:pointer; }
button:hover { background:var(--accent); color:#fff; }
button:disabled { opacity:.4; cursor:default; background:#fff; color:var(--accent); }
button.on { background:var(--accent); color:#fff; }
.chips { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:8px; }
.chip { border:1px solid var(--line); border-radius:12px; padding:1px 10px; cursor:pointer; background:#fff; }
.chip.on { background:var(--accent); color:#fff; border-color:var(--accent); }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; }
.group { color:var(--muted); font-size:12px; margin-right:4px; align-self:center; }
.muted { color:var(--muted); }
.count { color:var(--muted); font-variant-numeric: tabular-nums; }
.bar-row { display:flex; gap:8px; align-items:center; margin:4px 0 8px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .axis { stroke: var(--line); }
#clientinfo dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0; }
#clientinfo dt { color:var(--muted); }
.cols { display:grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap:12px; }
a.ip { color:var(--accent); cursor:pointer; text-decoration:underline; }
/* The client table fits its section (at 1400 px every column is in view): fixed column shares,
   headers and cells wrap; below its minimum width the section scrolls. */
#clienttable { table-layout:fixed; min-width:1000px; }
#clienttable th, #clienttable td { padding:4px 6px; white-space:normal; overflow-wrap:anywhere; }
#clienttable th { vertical-align:bottom; }
#clienttable td.list, #clienttable td.list div { max-width:none; white-space:normal; overflow:visible; }
#clienttable td.list div + div { margin-top:2px; }
`;

const js = `
"use strict";
// The page's state lives in its URL: ?job=N&client=IP&label=L&sort=COLUMN&order=asc|desc (and
// ?token= when TrActor has one),
// so what an analyst is looking at is a link to share.
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const auth = token ? { authorization: "Bearer " + token } : {};
const api = (p) => fetch("v1/" + p, { headers: auth }).then(async (r) => {
  const body = await r.json();
  if (!r.ok) throw new Error(body && body.message ? body.message : "HTTP " + r.status);
  return { body, total: Number(r.headers.get("x-total-count") || 0) };
});
const $ = (id) => document.getElementById(id);
${PAGE_DOM_JS}
const time = (s) => s ? new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—";
const clock = (ms) => new Date(ms).toISOString().slice(11, 19);
const grouped = (n) => String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, " ");
function bytes(n) {
  if (n < 1000) return n + " B";
  const units = ["kB", "MB", "GB", "TB"];
  let v = n, u = -1;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + units[u];
}
function duration(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const s = Math.round(ms / 1000);
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
const flowsText = (n) => grouped(n) + (n === 1 ? " flow" : " flows");
const palette = ["#2f6fde","#1f8a4c","#b7791f","#c23b32","#7b4fd6","#0f8b8d","#d6529a","#5b6475","#8aa324","#e07b39"];
const state = { job: Number(params.get("job") || (location.hash.match(/job=(\\d+)/) || [])[1]) || null,
  client: params.get("client"), label: params.get("label"), files: [], timer: null, colors: new Map(),
  clients: [], clientsTotal: 0,
  sort: { key: params.get("sort") || "requests", desc: params.get("order") !== "asc" }, metric: "bytes", timeline: null,
  flows: { filter: null, offset: 0, limit: 50 } };

function saveUrl() {
  const p = new URLSearchParams();
  if (token) p.set("token", token);
  if (state.job) p.set("job", String(state.job));
  if (state.client) p.set("client", state.client);
  else if (state.label) p.set("label", state.label);
  if (state.sort.key !== "requests" || !state.sort.desc) { p.set("sort", state.sort.key); p.set("order", state.sort.desc ? "desc" : "asc"); }
  history.replaceState(null, "", location.pathname + "?" + p.toString());
}
const colorOf = (label) => {
  if (!state.colors.has(label)) state.colors.set(label, palette[state.colors.size % palette.length]);
  return state.colors.get(label);
};

function barChart(target, items, opts) {
  target.replaceChildren();
  if (items.length === 0) { target.append(el("p", { class: "muted" }, "No data")); return; }
  const rowH = 22, labelW = opts.labelWidth || 150, width = opts.width || 560, valueW = opts.valueWidth || 70;
  const max = Math.max(1, ...items.map((i) => i.count));
  const svg = svgEl("svg", { width: opts.fixed ? width : "100%", viewBox: "0 0 " + width + " " + (items.length * rowH + 4), role: "img", "aria-label": opts.title });
  items.forEach((it, i) => {
    const y = i * rowH + 2, w = Math.max(2, Math.round((width - labelW - valueW) * it.count / max));
    const g = svgEl("g", { class: "bar", "data-label": it.label });
    g.append(svgEl("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, it.label));
    g.append(svgEl("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, rx: 2, fill: opts.color ? opts.color(it.label, i) : palette[i % palette.length] }));
    g.append(svgEl("text", { x: labelW + w + 6, y: y + 15 }, it.text || String(it.count)));
    if (opts.onClick) { g.style.cursor = "pointer"; g.addEventListener("click", () => opts.onClick(it.label)); }
    svg.append(g);
  });
  target.append(svg);
}

async function loadFiles() {
  let files;
  try { files = (await api("files/list")).body; } catch (e) { $("files").replaceChildren(el("p", { class: "muted" }, "Cannot list captures: " + e.message)); return; }
  state.files = files;
  const rows = files.map((f) => {
    const st = f.status || { state: "new" };
    const stText = st.state + (st.state === "in_progress" && st.progress !== undefined ? " " + st.progress + " %" : "");
    const actions = el("td", {});
    actions.append(el("button", { onclick: () => processFile(f.name) }, st.state === "finished" ? "Reprocess" : "Process"));
    if (st.state === "finished") actions.append(" ", el("button", { onclick: () => selectJob(st.job_id) }, "View"));
    return el("tr", { class: st.job_id === state.job && st.job_id !== undefined ? "sel" : "" },
      el("td", { class: "wrap" }, f.name), el("td", {}, f.extension),
      el("td", { class: "num", title: grouped(f.size_bytes) + " bytes" }, bytes(f.size_bytes)),
      el("td", {}, time(f.time_start)), el("td", {}, time(f.time_end)),
      el("td", {}, el("span", { class: "state " + st.state, title: st.message || "" }, stText)),
      el("td", { class: "num" }, st.job_id !== undefined ? st.job_id : "—"),
      el("td", { class: "num" }, f.flows_count !== undefined ? grouped(f.flows_count) : "—"), actions);
  });
  const head = el("tr", {}, ...[["Capture"], ["Type"], ["Size", "num"], ["Start"], ["End"], ["State"], ["Job", "num"], ["Flows", "num"], [""]]
    .map(([h, c]) => el("th", { class: c }, h)));
  $("files").replaceChildren(files.length === 0 ? el("p", { class: "muted" }, "No captures in the repository") : el("table", {}, head, ...rows));
  const busy = files.some((f) => f.status && (f.status.state === "in_progress" || f.status.state === "new" && f.status.job_id !== undefined));
  clearTimeout(state.timer);
  if (busy) state.timer = setTimeout(loadFiles, 2000);
  const finished = files.filter((f) => f.status && f.status.state === "finished")
    .sort((a, b) => (b.status.finished_at - a.status.finished_at) || (b.status.job_id - a.status.job_id));
  if (state.job === null) {
    // Opens on the latest finished job.
    if (finished.length > 0) selectJob(finished[0].status.job_id, true);
    else $("jobtitle").textContent = "No finished job yet: press Process on a capture above";
  } else if (!state.shown) {
    selectJob(state.job, true);
  } else if (!busy && !files.some((f) => f.status && f.status.job_id === state.job) && finished.length > 0) {
    selectJob(finished[0].status.job_id);
  }
}

async function processFile(name) {
  try {
    const st = await fetch("v1/files/process", { method: "POST", headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ file_name: name, force: true }) }).then((r) => r.json());
    $("note").textContent = "Job " + (st.job_id ?? "?") + ": " + st.state;
  } catch (e) { $("note").textContent = e.message; }
  loadFiles();
}

// fromUrl: the client or label the URL named stay chosen; a job chosen by hand starts afresh.
async function selectJob(id, fromUrl) {
  if (!fromUrl) { state.client = null; state.label = null; }
  state.job = id;
  state.shown = true;
  document.querySelectorAll("#files tr").forEach((tr) => tr.classList.remove("sel"));
  let details, stats, groups, clients, timeline;
  try {
    [details, stats, groups, clients, timeline] = (await Promise.all([api("file/" + id + "/details"), api("file/" + id + "/statistics"),
      api("labels/list"), api("file/" + id + "/clients?limit=500&top=5" + serverSort()), api("file/" + id + "/timeline")]));
  } catch (e) { $("jobtitle").textContent = "Job " + id + ": " + e.message; return; }
  saveUrl();
  const d = details.body;
  $("jobtitle").textContent = "Job " + id + " — " + d.name + " (" + grouped(d.flows_count ?? 0) + " flows, " + bytes(d.size_bytes) + ", " +
    time(d.time_start) + " … " + time(d.time_end) + ")";
  const protocols = (stats.body.find((s) => s.title === "protocols") || { content: [] }).content;
  state.colors = new Map();
  protocols.forEach((p) => colorOf(p.label));
  barChart($("labelchart"), protocols.map((p) => ({ ...p, text: flowsText(p.count) })),
    { title: "Flows per label", onClick: (l) => showFlows({ label: l }), color: colorOf, valueWidth: 90 });
  state.clients = clients.body;
  state.clientsTotal = clients.total;
  const top = [...clients.body].sort((a, b) => b.requests - a.requests || b.bytes - a.bytes).slice(0, 10);
  barChart($("clientchart"), top.map((c) => ({ label: c.ip, count: c.requests,
    text: grouped(c.requests) + " req · " + flowsText(c.flows) })),
    { title: "Top clients by requests", labelWidth: 150, valueWidth: 150, onClick: selectClient });
  const present = new Set(protocols.map((p) => p.label));
  const chips = [];
  for (const g of groups.body) {
    const have = g.labels.filter((l) => present.has(l));
    if (have.length === 0) continue;
    chips.push(el("span", { class: "group" }, g.group_name + ":"));
    for (const l of have) chips.push(el("span", { class: "chip", "data-label": l, onclick: () => showFlows({ label: l }) },
      el("span", { class: "swatch", style: "background:" + colorOf(l) }), l));
  }
  $("labels").replaceChildren(...chips);
  state.timeline = timeline.body;
  drawTimeline();
  renderClients();
  loadFiles();
  const chosen = state.client && state.clients.some((c) => c.ip === state.client) ? state.client : null;
  if (chosen) selectClient(chosen);
  else if (state.label && present.has(state.label)) { $("clientinfo").replaceChildren(el("p", { class: "muted" }, "Choose a client in the table or the chart")); showFlows({ label: state.label }); }
  else if (state.clients.length > 0) selectClient(top[0].ip);
  else $("flows").replaceChildren(el("p", { class: "muted" }, "No flows"));
}

// Traffic by label over time: one stacked bar per bucket (flows counted in their start's bucket).
function drawTimeline() {
  const t = state.timeline, target = $("timeline");
  document.querySelectorAll("#metric button").forEach((b) => b.classList.toggle("on", b.dataset.metric === state.metric));
  target.replaceChildren();
  if (!t || t.buckets.length === 0) { target.append(el("p", { class: "muted" }, "No flows")); return; }
  const metric = state.metric, width = 1100, height = 230, left = 70, bottom = 24, top = 8;
  const first = Math.min(...t.buckets.map((b) => b.start_unix_ms)), last = Math.max(...t.buckets.map((b) => b.start_unix_ms));
  const n = Math.round((last - first) / t.bucket_ms) + 1;
  const stacks = Array.from({ length: n }, () => new Map());
  const labels = [];
  for (const b of t.buckets) {
    if (!labels.includes(b.label)) labels.push(b.label);
    stacks[Math.round((b.start_unix_ms - first) / t.bucket_ms)].set(b.label, b[metric]);
  }
  labels.sort((a, b) => [...state.colors.keys()].indexOf(a) - [...state.colors.keys()].indexOf(b));
  const max = Math.max(1, ...stacks.map((s) => [...s.values()].reduce((a, v) => a + v, 0)));
  const plotW = width - left - 10, plotH = height - top - bottom, barW = plotW / n;
  const fmt = metric === "bytes" ? bytes : (v) => grouped(v) + " flows";
  const svg = svgEl("svg", { width: "100%", viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Traffic by label over time", id: "timelinechart" });
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - plotH * i / 4;
    svg.append(svgEl("line", { x1: left, x2: width - 10, y1: y, y2: y, class: "axis" }));
    svg.append(svgEl("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, fmt(Math.round(max * i / 4))));
  }
  stacks.forEach((s, i) => {
    let y = top + plotH;
    for (const l of labels) {
      const v = s.get(l) || 0;
      if (v === 0) continue;
      const h = Math.max(1, plotH * v / max);
      y -= h;
      const r = svgEl("rect", { x: left + i * barW + 1, y, width: Math.max(1, barW - 2), height: h, fill: colorOf(l), class: "tl", "data-label": l });
      r.append(svgEl("title", {}, l + ": " + fmt(v) + " at " + clock(first + i * t.bucket_ms) + " UTC"));
      svg.append(r);
    }
  });
  const ticks = Math.min(n, 8);
  for (let k = 0; k < ticks; k++) {
    const i = Math.round(k * (n - 1) / Math.max(1, ticks - 1));
    const anchor = ticks > 1 && k === 0 ? "start" : ticks > 1 && k === ticks - 1 ? "end" : "middle";
    const x = anchor === "start" ? left + i * barW : anchor === "end" ? left + (i + 1) * barW : left + i * barW + barW / 2;
    svg.append(svgEl("text", { x, y: height - 6, "text-anchor": anchor }, clock(first + i * t.bucket_ms)));
  }
  target.append(svg);
  const legend = el("div", { class: "chips" }, el("span", { class: "muted" }, (metric === "bytes" ? "Bytes" : "Flows") + " per " + duration(t.bucket_ms) + " (UTC), by flow start:"),
    ...labels.map((l) => el("span", {}, el("span", { class: "swatch", style: "background:" + colorOf(l) }), l)));
  target.append(legend);
}

const COLUMNS = [
  // key, header, numeric (sort and alignment)?, server sort key, cell, share of the table's width (%)
  ["ip", "Client", false, "ip", (c) => el("a", { class: "ip", onclick: () => selectClient(c.ip) }, c.ip), 8.5],
  ["country", "Country", false, null, (c) => [c.country, c.city].filter(Boolean).join(", ") || "—", 6.5],
  ["flows", "Flows", true, "flows", (c) => grouped(c.flows), 4.5],
  ["packets", "Packets", true, "packets", (c) => grouped(c.packets), 5.5],
  ["bytes", "Bytes", true, "bytes", (c) => bytes(c.bytes), 5.5],
  ["duration_ms", "Duration", true, "duration_ms", (c) => duration(c.duration_ms), 6],
  ["requests", "HTTP requests", true, "requests", (c) => grouped(c.requests), 7],
  ["user_agents_distinct", "User-Agents", false, "user_agents", (c) => listCell(c.user_agents, "user_agent", "requests", c.user_agents_distinct, agentTexts), 19],
  ["hosts", "Hosts", false, null, (c) => listCell(c.hosts, "host", "requests"), 9],
  ["urls", "Top URLs", false, null, (c) => listCell(c.urls, "url", "requests"), 15],
  ["status_codes", "Status codes", false, null, (c) => c.status_codes.map((s) => (s.status || "other") + " × " + s.responses).join(", ") || "—", 7.5],
  ["labels", "Labels", false, null, (c) => c.labels.map((l) => l.label + " (" + l.flows + ")").join(", "), 6],
];

// A long text keeps its start and, longer, its end (where versions and names differ) around "…".
function middle(s, max) {
  if (s.length <= max) return s;
  const tail = Math.ceil((max - 1) * 0.6);
  return s.slice(0, max - 1 - tail) + "…" + s.slice(s.length - tail);
}

// User-Agents of one client as shown: the first whole (or cut in the middle); the next ones
// without the start they share with it, so what tells a rotator's agents apart is in view.
function agentTexts(agents) {
  const first = agents[0] || "";
  return agents.map((ua, i) => {
    if (i === 0) return middle(ua, 60);
    let n = 0;
    while (n < ua.length && n < first.length && ua[n] === first[n]) n++;
    // Back to a word boundary, and only when the shared start is long enough to hide.
    while (n > 0 && !" ;(".includes(ua[n - 1])) n--;
    return middle(n >= 12 ? "…" + ua.slice(n) : ua, 60);
  });
}

function listCell(items, key, unit, distinct, texts) {
  if (!items || items.length === 0) return "—";
  const box = el("div", {});
  const shown = items.slice(0, 3);
  const words = texts ? texts(shown.map((it) => it[key])) : shown.map((it) => it[key]);
  shown.forEach((it, i) => box.append(el("div", { title: it[key] }, words[i] + " ", el("span", { class: "count" }, "× " + grouped(it[unit])))));
  const more = (distinct ?? items.length) - Math.min(3, items.length);
  if (more > 0) box.append(el("div", { class: "muted" }, "+ " + more + " more"));
  return box;
}

function sortValue(c, key) {
  const v = c[key];
  if (key === "ip") return c.ip.includes(":") ? "z" + c.ip : c.ip.split(".").map((p) => p.padStart(3, "0")).join(".");
  if (key === "country") return (c.country || "") + (c.city || "");
  if (key === "user_agents_distinct") return v;
  if (Array.isArray(v)) return v.length > 0 ? (v[0].url || v[0].host || v[0].label || String(v[0].status)) : "";
  return v;
}

async function sortClients(key, server) {
  const same = state.sort.key === key;
  state.sort = { key, desc: same ? !state.sort.desc : key !== "ip" && key !== "country" };
  saveUrl();
  // A bounded page sorts itself; when the job has more clients than loaded, the server sorts.
  if (server && state.clientsTotal > state.clients.length) {
    try {
      state.clients = (await api("file/" + state.job + "/clients?limit=500&top=5" + serverSort())).body;
    } catch (e) { $("note").textContent = e.message; }
  }
  renderClients();
}

function serverSort() {
  const col = COLUMNS.find((c) => c[0] === state.sort.key);
  return col && col[3] ? "&sort=" + col[3] + "&order=" + (state.sort.desc ? "desc" : "asc") : "";
}

function renderClients() {
  if (!COLUMNS.some((c) => c[0] === state.sort.key)) state.sort = { key: "requests", desc: true };
  const { key, desc } = state.sort;
  const rows = [...state.clients].sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return (desc ? -c : c) || b.bytes - a.bytes;
  });
  const cols = el("colgroup", {}, ...COLUMNS.map((c) => el("col", { style: "width:" + c[5] + "%" })));
  const head = el("tr", {}, ...COLUMNS.map(([k, h, num, server]) =>
    el("th", { class: "sortable" + (num ? " num" : "") + (k === key ? " sorted" : ""), "data-key": k, onclick: () => sortClients(k, server) },
      h + (k === key ? (desc ? " ▼" : " ▲") : ""))));
  const body = rows.map((c) => el("tr", { class: c.ip === state.client ? "sel" : "", "data-ip": c.ip },
    ...COLUMNS.map(([k, , num, , cell]) => el("td", { class: num ? "num" : (k === "urls" || k === "hosts" || k === "user_agents_distinct" ? "list" : ""), "data-key": k }, cell(c)))));
  $("clientcount").textContent = state.clientsTotal > state.clients.length ? " (" + state.clients.length + " of " + grouped(state.clientsTotal) + ")" : " (" + state.clients.length + ")";
  $("clients").replaceChildren(rows.length === 0 ? el("p", { class: "muted" }, "No clients") : el("table", { id: "clienttable" }, cols, head, ...body));
}

async function selectClient(ip) {
  state.client = ip;
  state.label = null;
  saveUrl();
  document.querySelectorAll("#clienttable tr").forEach((tr) => tr.classList.toggle("sel", tr.dataset.ip === ip));
  let d;
  try { d = (await api("file/" + state.job + "/statistics/ip?ip=" + encodeURIComponent(ip))).body; }
  catch (e) { $("clientinfo").replaceChildren(el("p", { class: "muted" }, ip + ": " + e.message)); return; }
  const c = d.client || {};
  const dl = el("dl", {}, el("dt", {}, "IP"), el("dd", {}, ip), el("dt", {}, "Country, city"), el("dd", {}, [d.country, d.city].filter(Boolean).join(", ") || "—"),
    el("dt", {}, "Flows"), el("dd", {}, grouped(c.flows ?? 0)), el("dt", {}, "Packets"), el("dd", {}, grouped(c.packets ?? 0)),
    el("dt", {}, "Bytes"), el("dd", {}, bytes(c.bytes ?? 0) + " (" + grouped(c.bytes ?? 0) + " bytes)"),
    el("dt", {}, "Duration"), el("dd", {}, duration(c.duration_ms ?? 0)), el("dt", {}, "HTTP requests"), el("dd", {}, grouped(c.requests ?? 0)),
    el("dt", {}, "Domain"), el("dd", {}, d.domain_name || "—"));
  const table = (title, items, key, header, unit, unitName) => el("div", {}, el("h3", {}, title + " (" + (items || []).length + ")"),
    !items || items.length === 0 ? el("p", { class: "muted" }, "—") : el("table", {}, el("tr", {}, el("th", {}, header), el("th", { class: "num" }, unitName)),
      ...items.map((it) => el("tr", {}, el("td", { class: "wrap" }, String(it[key] === 0 ? "other" : it[key])), el("td", { class: "num" }, grouped(it[unit]))))));
  const chart = el("div", {});
  const protocols = (d.statistics.find((s) => s.title === "protocols") || { content: [] }).content;
  barChart(chart, protocols.map((p) => ({ ...p, text: flowsText(p.count) })),
    { title: "Flows of " + ip, color: colorOf, width: 320, labelWidth: 90, valueWidth: 80, fixed: true });
  $("clientinfo").replaceChildren(el("div", { class: "cols" }, el("div", {}, dl, el("h3", {}, "Flows per label"), chart),
    table("User-Agents", d.user_agents, "user_agent", "User-Agent", "requests", "Requests"),
    table("Hosts", d.hosts, "host", "Host", "requests", "Requests"), table("URLs", d.urls, "url", "URL", "requests", "Requests"),
    table("Status codes", d.status_codes, "status", "Status", "responses", "Responses")));
  showFlows({ client: ip });
}

async function showFlows(filter, offset) {
  if (filter.label) { state.label = filter.label; state.client = null; saveUrl(); }
  document.querySelectorAll(".chip").forEach((c) => c.classList.toggle("on", c.dataset.label === filter.label));
  state.flows = { filter, offset: offset || 0, limit: 50 };
  const q = filter.client ? "client_ip=" + encodeURIComponent(filter.client) : "label=" + encodeURIComponent(filter.label);
  $("flowtitle").textContent = filter.client ? "Flows of client " + filter.client : "Flows labelled " + filter.label;
  let r;
  try { r = await api("file/" + state.job + "/flows?" + q + "&limit=" + state.flows.limit + "&offset=" + state.flows.offset); }
  catch (e) { $("flows").replaceChildren(el("p", { class: "muted" }, e.message)); return; }
  const head = el("tr", {}, ...[["Client"], ["Port", "num"], ["Server"], ["Port", "num"], ["Proto"], ["Label"], ["Start (UTC)"], ["Duration", "num"],
    ["Packets", "num"], ["Bytes", "num"], ["Requests", "num"], ["User-Agent"], ["Domain"], ["Comment"]].map(([h, c]) => el("th", { class: c }, h)));
  const rows = r.body.map((f) => el("tr", {},
    el("td", {}, el("a", { class: "ip", onclick: () => selectClient(f.client_ip) }, f.client_ip)), el("td", { class: "num" }, f.client_port),
    el("td", {}, f.server_ip), el("td", { class: "num" }, f.server_port), el("td", {}, f.protocol),
    el("td", {}, el("span", { class: "swatch", style: "background:" + colorOf(f.label) }), f.label),
    el("td", {}, new Date(f.start_unix_ms).toISOString().replace("T", " ").slice(0, 23)), el("td", { class: "num" }, duration(f.duration_ms)),
    el("td", { class: "num" }, grouped(f.packets)), el("td", { class: "num" }, bytes(f.bytes)), el("td", { class: "num" }, grouped(f.requests)),
    el("td", { class: "wrap" }, f.user_agent || "—"), el("td", {}, f.domain_name || "—"), el("td", { class: "wrap" }, f.comment)));
  const from = r.total === 0 ? 0 : state.flows.offset + 1, to = state.flows.offset + r.body.length;
  const pager = el("div", { class: "bar-row" },
    el("button", { onclick: () => showFlows(filter, Math.max(0, state.flows.offset - state.flows.limit)), ...(state.flows.offset === 0 ? { disabled: "" } : {}) }, "◀ Previous"),
    el("span", { class: "muted", id: "flowrange" }, "flows " + from + "–" + to + " of " + grouped(r.total)),
    el("button", { onclick: () => showFlows(filter, state.flows.offset + state.flows.limit), ...(to >= r.total ? { disabled: "" } : {}) }, "Next ▶"));
  $("flows").replaceChildren(pager, el("div", { class: "scroll" }, el("table", { id: "flowtable" }, head, ...rows)));
}

document.querySelectorAll("#metric button").forEach((b) => b.addEventListener("click", () => { state.metric = b.dataset.metric; drawTimeline(); }));
loadFiles();
`;

/** The whole page: HTML with inline CSS and JS. */
export const tractorPage: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TrActor</title>
<style>${css}</style>
</head>
<body>
<header><h1>TrActor</h1><span>capture analysis · REST API v1</span><span id="note"></span></header>
<main>
<section class="wide"><h2>Captures</h2><div id="files"><p class="muted">Loading…</p></div></section>
<section class="wide"><h2 id="jobtitle">Loading the latest job…</h2><div class="chips" id="labels"></div></section>
<section><h2>Flows per label</h2><div id="labelchart"></div></section>
<section><h2>Top clients by HTTP requests</h2><div id="clientchart"></div></section>
<section class="wide"><h2>Traffic by label over time</h2>
<div class="bar-row" id="metric"><button data-metric="bytes">Bytes</button><button data-metric="flows">Flows</button></div>
<div id="timeline"></div></section>
<section class="wide"><h2>Clients<span id="clientcount" class="count"></span></h2><div class="scroll" id="clients"></div></section>
<section class="wide"><h2>Client details</h2><div id="clientinfo"><p class="muted">Choose a client in the table or the chart</p></div></section>
<section class="wide"><h2 id="flowtitle">Flows</h2><div id="flows"></div></section>
</main>
<script>${js}</script>
</body>
</html>
`;
