/**
 * The TrActor single page, served at `/`: captures and their jobs, label distribution and top
 * clients as inline SVG bar charts, flows of a chosen label, details of a chosen IP. One HTML
 * string with inline CSS and JS (no build step, nothing fetched from the internet); it reads the
 * API under `v1/`. Capture-derived text (user agents, comments, domains) is only ever inserted
 * with `textContent`, never as HTML.
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
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.wrap { white-space:normal; word-break:break-all; }
th { color:var(--muted); font-weight:600; }
tr.sel td { background:#eaf1fd; }
.state { font-weight:600; }
.state.finished { color:var(--ok); } .state.failed { color:var(--bad); }
.state.in_progress, .state.new { color:var(--run); }
button { font:inherit; font-size:12px; padding:2px 8px; border:1px solid var(--accent);
  background:#fff; color:var(--accent); border-radius:4px; cursor:pointer; }
button:hover { background:var(--accent); color:#fff; }
.chips { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:8px; }
.chip { border:1px solid var(--line); border-radius:12px; padding:1px 10px; cursor:pointer; background:#fff; }
.chip.on { background:var(--accent); color:#fff; border-color:var(--accent); }
.group { color:var(--muted); font-size:12px; margin-right:4px; align-self:center; }
.muted { color:var(--muted); }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
#ipinfo dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0; }
#ipinfo dt { color:var(--muted); }
a.ip { color:var(--accent); cursor:pointer; text-decoration:underline; }
`;

const js = `
"use strict";
// Opened as /?token=<token> when TrActor has one: every call then carries it as a header.
const token = new URLSearchParams(location.search).get("token") || "";
const auth = token ? { authorization: "Bearer " + token } : {};
const api = (p) => fetch("v1/" + p, { headers: auth }).then(async (r) => {
  const body = await r.json();
  if (!r.ok) throw new Error(body && body.message ? body.message : "HTTP " + r.status);
  return body;
});
const $ = (id) => document.getElementById(id);
${PAGE_DOM_JS}
const time = (s) => s ? new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19) : "—";
const palette = ["#2f6fde","#1f8a4c","#b7791f","#c23b32","#7b4fd6","#0f8b8d","#d6529a","#5b6475","#8aa324","#e07b39"];
const state = { job: null, label: null, files: [], timer: null };

function barChart(target, items, opts) {
  target.replaceChildren();
  if (items.length === 0) { target.append(el("p", { class: "muted" }, "No data")); return; }
  const rowH = 22, labelW = opts.labelWidth || 150, width = 560, valueW = 60;
  const max = Math.max(...items.map((i) => i.count));
  const svg = svgEl("svg", { width, height: items.length * rowH + 4, role: "img", "aria-label": opts.title });
  items.forEach((it, i) => {
    const y = i * rowH + 2, w = Math.max(2, Math.round((width - labelW - valueW) * it.count / max));
    const g = svgEl("g", { class: "bar", "data-label": it.label });
    g.append(svgEl("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, it.label));
    g.append(svgEl("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, rx: 2, fill: palette[i % palette.length] }));
    g.append(svgEl("text", { x: labelW + w + 6, y: y + 15 }, String(it.count)));
    if (opts.onClick) { g.style.cursor = "pointer"; g.addEventListener("click", () => opts.onClick(it.label)); }
    svg.append(g);
  });
  target.append(svg);
}

async function loadFiles() {
  let files;
  try { files = await api("files/list"); } catch (e) { $("files").replaceChildren(el("p", { class: "muted" }, "Cannot list captures: " + e.message)); return; }
  state.files = files;
  const rows = files.map((f) => {
    const st = f.status || { state: "new" };
    const stText = st.state + (st.state === "in_progress" && st.progress !== undefined ? " " + st.progress + "%" : "");
    const actions = el("td", {});
    actions.append(el("button", { onclick: () => processFile(f.name) }, st.state === "finished" ? "Reprocess" : "Process"));
    if (st.state === "finished") actions.append(" ", el("button", { onclick: () => selectJob(st.job_id) }, "View"));
    const tr = el("tr", { class: st.job_id === state.job && st.job_id !== undefined ? "sel" : "" },
      el("td", { class: "wrap" }, f.name), el("td", {}, f.extension), el("td", {}, f.size + " kB"),
      el("td", {}, time(f.time_start)), el("td", {}, time(f.time_end)),
      el("td", {}, el("span", { class: "state " + st.state, title: st.message || "" }, stText)),
      el("td", {}, st.job_id !== undefined ? st.job_id : "—"),
      el("td", {}, f.flows_count !== undefined ? f.flows_count : "—"), actions);
    return tr;
  });
  const head = el("tr", {}, ...["Capture", "Type", "Size", "Start", "End", "State", "Job", "Flows", ""].map((h) => el("th", {}, h)));
  $("files").replaceChildren(files.length === 0 ? el("p", { class: "muted" }, "No captures in the repository") : el("table", {}, head, ...rows));
  const busy = files.some((f) => f.status && (f.status.state === "in_progress" || f.status.state === "new" && f.status.job_id !== undefined));
  clearTimeout(state.timer);
  if (busy) state.timer = setTimeout(loadFiles, 2000);
  if (state.job === null) {
    const fromHash = Number((location.hash.match(/job=(\\d+)/) || [])[1]);
    const finished = files.find((f) => f.status && f.status.state === "finished");
    if (fromHash) selectJob(fromHash); else if (finished) selectJob(finished.status.job_id);
  } else if (!busy) {
    const cur = files.find((f) => f.status && f.status.job_id === state.job);
    if (!cur) { const finished = files.find((f) => f.status && f.status.state === "finished"); if (finished) selectJob(finished.status.job_id); }
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

async function selectJob(id) {
  state.job = id;
  history.replaceState(null, "", "#job=" + id);
  let details, stats, groups;
  try {
    [details, stats, groups] = await Promise.all([api("file/" + id + "/details"), api("file/" + id + "/statistics"), api("labels/list")]);
  } catch (e) { $("jobtitle").textContent = "Job " + id + ": " + e.message; return; }
  $("jobtitle").textContent = "Job " + id + " — " + details.name + " (" + (details.flows_count ?? 0) + " flows, " +
    time(details.time_start) + " … " + time(details.time_end) + ")";
  const protocols = (stats.find((s) => s.title === "protocols") || { content: [] }).content;
  const clients = (stats.find((s) => s.title === "clients") || { content: [] }).content;
  barChart($("labelchart"), protocols, { title: "Flows per label", onClick: selectLabel });
  barChart($("clientchart"), clients.slice(0, 10), { title: "Top clients", labelWidth: 200, onClick: selectIp });
  const present = new Set(protocols.map((p) => p.label));
  const chips = [];
  for (const g of groups) {
    const have = g.labels.filter((l) => present.has(l));
    if (have.length === 0) continue;
    chips.push(el("span", { class: "group" }, g.group_name + ":"));
    for (const l of have) chips.push(el("span", { class: "chip", "data-label": l, onclick: () => selectLabel(l) }, l));
  }
  $("labels").replaceChildren(...chips);
  document.querySelectorAll("#files tr").forEach((tr) => tr.classList.remove("sel"));
  loadFiles();
  if (protocols.length > 0) selectLabel(state.label && present.has(state.label) ? state.label : protocols[0].label);
  else $("flows").replaceChildren(el("p", { class: "muted" }, "No flows"));
  if (clients.length > 0) selectIp(clients[0].label);
}

async function selectLabel(label) {
  state.label = label;
  document.querySelectorAll(".chip").forEach((c) => c.classList.toggle("on", c.dataset.label === label));
  $("flowtitle").textContent = "Flows labelled " + label;
  let flows;
  try { flows = await api("file/" + state.job + "/flows/labels?label=" + encodeURIComponent(label) + "&limit=200"); }
  catch (e) { $("flows").replaceChildren(el("p", { class: "muted" }, e.message)); return; }
  const head = el("tr", {}, ...["Client", "Port", "Server", "Port", "Start", "End", "Comment"].map((h) => el("th", {}, h)));
  const rows = flows.map((f) => el("tr", {},
    el("td", {}, el("a", { class: "ip", onclick: () => selectIp(f.client_ip) }, f.client_ip)), el("td", {}, f.client_port),
    el("td", {}, el("a", { class: "ip", onclick: () => selectIp(f.server_ip) }, f.server_ip)), el("td", {}, f.server_port),
    el("td", {}, time(f.time_start)), el("td", {}, time(f.time_end)), el("td", { class: "wrap" }, f.comment)));
  $("flows").replaceChildren(el("table", {}, head, ...rows));
}

async function selectIp(ip) {
  let d;
  try { d = await api("file/" + state.job + "/statistics/ip?ip=" + encodeURIComponent(ip)); }
  catch (e) { $("ipinfo").replaceChildren(el("p", { class: "muted" }, ip + ": " + e.message)); return; }
  const protocols = (d.statistics.find((s) => s.title === "protocols") || { content: [] }).content;
  const dl = el("dl", {}, el("dt", {}, "IP"), el("dd", {}, ip), el("dt", {}, "Country"), el("dd", {}, d.country || "—"),
    el("dt", {}, "City"), el("dd", {}, d.city || "—"), el("dt", {}, "User agent"), el("dd", {}, d.user_agent || "—"),
    el("dt", {}, "Domain"), el("dd", {}, d.domain_name || "—"));
  const chart = el("div", {});
  barChart(chart, protocols, { title: "Flows of " + ip });
  $("ipinfo").replaceChildren(dl, chart);
}

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
<section class="wide"><h2 id="jobtitle">No job selected</h2><div class="chips" id="labels"></div></section>
<section><h2>Flows per label</h2><div id="labelchart"></div></section>
<section><h2>Top clients</h2><div id="clientchart"></div></section>
<section class="wide"><h2 id="flowtitle">Flows</h2><div id="flows"></div></section>
<section class="wide"><h2>IP details</h2><div id="ipinfo"><p class="muted">Choose an IP in a chart or the flow list</p></div></section>
</main>
<script>${js}</script>
</body>
</html>
`;
