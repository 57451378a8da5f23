"""The local stack's ``/dashboard``: the analytics API's figures as charts, for developers (never deployed).

``/dashboard`` is a static page; its script fetches ``/dashboard/data``, which calls ``GET /v1/analytics`` through
the front with an admin dev token minted here, server-side, so the page itself holds no token. Charts are
plain SVG drawn by a few lines of script: no chart library, nothing fetched from the internet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen_tools import tokens

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_emulator.front import Front

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pregen dashboard (local)</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
  h1 { font-size: 20px; } h2 { font-size: 15px; margin: 18px 0 6px; }
  .grid { display: grid; grid-template-columns: repeat(2, minmax(360px, 1fr)); gap: 16px; }
  .card { border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
  .kpi { display: inline-block; margin-right: 24px; } .kpi b { font-size: 20px; display: block; }
  svg text { font-size: 10px; fill: #444; } .err { color: #b00; }
  table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; }
</style>
</head>
<body>
<h1>Pregen dashboard <small>(local stack)</small></h1>
<div id="status">loading…</div>
<div id="kpis"></div>
<div class="grid">
  <div class="card"><h2>Hit rate per day</h2><svg id="chart-hit-rate" width="420" height="180"></svg></div>
  <div class="card"><h2>Generations per day</h2><svg id="chart-generated" width="420" height="180"></svg></div>
  <div class="card"><h2>Cost per day (USD)</h2><svg id="chart-cost" width="420" height="180"></svg></div>
  <div class="card"><h2>Queue depths</h2><svg id="chart-queues" width="420" height="180"></svg></div>
  <div class="card"><h2>Courses in the window</h2><svg id="chart-courses" width="420" height="180"></svg></div>
</div>
<h2>Model provider's budget (this minute; waits and 429s over the last hour)</h2>
<table id="providers"></table>
<h2>Execution environments (this stack's functions, as Lambda's REPORT lines report them)</h2>
<table id="environments"></table>
<script>
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
// Bars (or a line) with one labelled point per value; each point carries data-label and data-value.
function chart(id, labels, values, opts) {
  const svg = document.getElementById(id);
  const w = 420, h = 180, pad = 28, max = Math.max(opts.max || 0, ...values, 1e-9);
  const step = (w - 2 * pad) / Math.max(values.length, 1);
  svg.appendChild(el("line", {x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: "#999"}));
  let path = "";
  values.forEach((v, i) => {
    const x = pad + i * step, y = h - pad - (h - 2 * pad) * (v / max);
    const point = opts.line
      ? el("circle", {cx: x + step / 2, cy: y, r: 3, fill: "#2a6"})
      : el("rect", {x: x + 2, y: y, width: Math.max(step - 4, 1), height: h - pad - y, fill: opts.color || "#36c"});
    point.setAttribute("class", "point");
    point.setAttribute("data-label", labels[i]);
    point.setAttribute("data-value", String(v));
    point.appendChild(el("title", {}, labels[i] + ": " + v));
    svg.appendChild(point);
    path += (i ? "L" : "M") + (x + step / 2) + "," + y;
    svg.appendChild(el("text", {x: x + step / 2, y: h - pad + 12, "text-anchor": "middle"},
      /^\\d{4}-\\d{2}-\\d{2}$/.test(labels[i]) ? labels[i].slice(5) : labels[i].replace("_", " ")));
    svg.appendChild(el("text", {x: x + step / 2, y: y - 4, "text-anchor": "middle"}, String(v)));
  });
  if (opts.line && values.length) svg.appendChild(el("path", {d: path, stroke: "#2a6", fill: "none"}));
  svg.setAttribute("data-rendered", String(values.length));
}
fetch("/dashboard/data").then(r => r.json().then(body => ({ok: r.ok, body}))).then(({ok, body}) => {
  if (!ok) throw new Error(body.message || "analytics failed");
  const days = body.daily.map(d => d.day);
  chart("chart-hit-rate", days, body.daily.map(d => d.hitRate), {line: true, max: 1});
  chart("chart-generated", days, body.daily.map(d => d.generated), {});
  chart("chart-cost", days, body.daily.map(d => d.costUsd), {color: "#c63"});
  const queues = Object.keys(body.queues);
  chart("chart-queues", queues, queues.map(q => body.queues[q].visible + body.queues[q].in_flight), {color: "#963"});
  // In progress: started in the window and neither ready nor failed yet (from the analytics' courses section).
  const c = body.courses;
  const inProgress = Math.max(0, c.started - c.ready - c.failed);
  chart("chart-courses", ["in_progress", "ready", "failed"], [inProgress, c.ready, c.failed], {color: "#639"});
  const kpis = [["hit rate", body.hitRate], ["hits", body.hits], ["misses", body.misses],
                ["generated", body.totalGenerated], ["cost USD", body.costUsd], ["saved USD", body.costSavedUsd],
                ["courses in progress", inProgress], ["course ready p50 ms", c.timeToReadyMs.p50]];
  document.getElementById("kpis").innerHTML = kpis.map(
    ([k, v]) => `<span class="kpi" data-kpi="${k}"><b>${v}</b>${k}</span>`).join("");
  // Per model: output tokens reserved or used this minute against the tier, calls handed back for the budget,
  // 429s per thousand answers (the analytics' providers section; absent when PROVIDER_BUDGET is off).
  const providers = Object.entries(body.providers || {});
  document.getElementById("providers").innerHTML = providers.length
    ? "<tr><th>model</th><th>output tokens (minute)</th><th>used</th><th>requests</th><th>waits (minute)</th>" +
      "<th>waits (hour)</th><th>429s per 1,000 calls</th></tr>" + providers.map(([model, p]) =>
        `<tr data-model="${model}"><td>${model}</td>` +
        `<td>${p.minute.outputTokens} / ${p.minute.outputTokensLimit}</td>` +
        `<td data-used="${p.minute.used}">${Math.round(p.minute.used * 100)} %</td>` +
        `<td>${p.minute.requests} / ${p.minute.requestsLimit}</td><td>${p.minute.waits}</td>` +
        `<td>${p.lastHour.waits}</td><td>${p.lastHour.throttledPerThousand ?? "-"}</td></tr>`).join("")
    : "<tr><td>the provider budget is off (PROVIDER_BUDGET)</td></tr>";
  const asOf = new Date(body.timestamp * 1000).toISOString();
  document.getElementById("status").textContent = `window ${body.from} .. ${body.to}, as of ${asOf}`;
  document.body.setAttribute("data-ready", "true");
}).catch(e => {
  const status = document.getElementById("status");
  status.className = "err"; status.textContent = "could not load analytics: " + e.message;
  document.body.setAttribute("data-ready", "error");
});
fetch("/dashboard/environments").then(r => r.json()).then(pools => {
  const columns = ["environments", "limit", "invocations", "coldStarts", "initMsP50", "durationMsP50",
                   "durationMsP99", "errors", "timeouts", "environmentsLost", "retired"];
  const head = "<tr><th>function</th>" + columns.map(c => `<th>${c}</th>`).join("") + "</tr>";
  document.getElementById("environments").innerHTML = head + Object.entries(pools).map(([name, f]) =>
    `<tr data-function="${name}"><td>${name}</td>` + columns.map(c => `<td>${f[c] ?? ""}</td>`).join("") + "</tr>"
  ).join("");
}).catch(() => {});
</script>
</body>
</html>
"""


def pages(front: Front) -> dict[str, Callable[[], tuple[int, str, bytes]]]:
    """The page and its data, for ``Front.extra_pages``."""

    def page() -> tuple[int, str, bytes]:
        return 200, "text/html; charset=utf-8", PAGE.encode()

    def data() -> tuple[int, str, bytes]:
        token = tokens.mint("local-dashboard", "admin", ttl_seconds=60)
        status, _, body = front.handle("GET", "/v1/analytics", {"authorization": f"Bearer {token}"}, b"", "127.0.0.1")
        return status, "application/json", body

    return {"/dashboard": page, "/dashboard/data": data}
