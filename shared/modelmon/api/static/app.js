// modelmon dashboard: plain JavaScript over the /api/v1 API, charts drawn with plotly.js
// (served from the plotly Python package by the API itself: no CDN, works air-gapped).
// Routes: #/ (overview), #/models/<id> and #/models/<id>/features/<name>. A token given as
// #token=... is kept in sessionStorage and removed from the address bar.
"use strict";

const POLL_MS = Number(document.getElementById("app-script").dataset.pollMs) || 5000;
const PLOT_CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
const BASE_COLOR = "#4e79a7";
const WINDOW_COLOR = "#f28e2b";
const state = { token: sessionStorage.getItem("modelmon-token") || "", timer: null, busy: false };

const $ = (id) => document.getElementById(id);

function esc(text) {
  const div = document.createElement("div");
  div.textContent = text == null ? "" : String(text);
  return div.innerHTML;
}

function fmtTime(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "") : "–";
}

function fmtNum(x) {
  return x == null ? "–" : Number(x).toPrecision(3);
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path) {
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const response = await fetch("/api/v1" + path, { headers });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (_) { /* not a problem body */ }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function show(id) {
  for (const section of ["login", "overview", "model"]) $(section).hidden = section !== id;
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "models" && parts[1]) {
    return { model: parts[1], feature: parts[3] || null, window: parts[4] || null };
  }
  return { model: null, feature: null, window: null };
}

function crumbs(where) {
  const nav = $("crumbs");
  let html = '<a href="#/">models</a>';
  if (where.model) {
    html += ' › <a href="#/models/' + encodeURIComponent(where.model) + '">' + esc(where.model) + "</a>";
  }
  if (where.feature) html += " › " + esc(where.feature);
  nav.innerHTML = html;
}

// plotly.min.js (4.8 MB) loads on the first chart, so the overview renders without it.
function loadPlotly() {
  if (window.Plotly) return Promise.resolve();
  if (!state.plotly) {
    state.plotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/plotly.min.js";
      script.onload = resolve;
      script.onerror = () => { state.plotly = null; reject(new Error("plotly.min.js did not load")); };
      document.head.appendChild(script);
    });
  }
  return state.plotly;
}

// ----- overview --------------------------------------------------------------------------
async function renderOverview() {
  const page = await api("/models?limit=1000");
  const body = $("models-table").querySelector("tbody");
  body.innerHTML = page.items.map((m) => {
    const last = m.last_window;
    const href = "#/models/" + encodeURIComponent(m.model_id);
    return "<tr data-model='" + esc(m.model_id) + "'>" +
      '<th scope="row"><a href="' + href + '">' + esc(m.model_id) + "</a></th>" +
      '<td><span class="badge ' + m.health + '">' + m.health.replace("_", " ") + "</span></td>" +
      "<td>" + (last ? fmtTime(last.window_start) : "–") + "</td>" +
      "<td>" + (last ? last.event_count : "–") + "</td>" +
      "<td>" + m.violations_last_day + "</td>" +
      "<td>" + m.open_alarms + "</td></tr>";
  }).join("");
  $("no-models").hidden = page.items.length > 0;
  show("overview");
}

// ----- one model -------------------------------------------------------------------------
function heatTrace(map) {
  const z = map.cells.map((row) => row.map((c) => (c && c.severity != null ? Math.min(c.severity, 3) : null)));
  const text = map.cells.map((row) => row.map((c) =>
    c ? "distance " + fmtNum(c.value) + " / threshold " + fmtNum(c.threshold) : "no check"));
  return {
    type: "heatmap", z, x: map.windows, y: map.features, text,
    hovertemplate: "%{y} @ %{x}<br>%{text}<extra></extra>",
    zmin: 0, zmax: 2, xgap: 1, ygap: 1,
    colorscale: [[0, "#2e7d32"], [0.35, "#9ccc65"], [0.5, "#fdd835"], [0.5001, "#ef6c00"], [1, "#b71c1c"]],
    colorbar: { title: { text: "÷ threshold" }, thickness: 10 },
  };
}

function drawHeatmap(map, model) {
  const el = $("heatmap");
  const layout = {
    margin: { l: 90, r: 10, t: 10, b: 60 }, height: Math.max(180, 40 + 26 * map.features.length),
    xaxis: { type: "date" }, yaxis: { automargin: true, autorange: "reversed" },
  };
  Plotly.react(el, [heatTrace(map)], layout, PLOT_CONFIG);
  if (!el.dataset.bound) {
    el.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point) location.hash = "#/models/" + encodeURIComponent(el.dataset.model) +
        "/features/" + encodeURIComponent(point.y) + "/" +
        encodeURIComponent(state.heatWindows[point.pointIndex[1]]);
    });
    el.dataset.bound = "1";
  }
  el.dataset.model = model;
  state.heatWindows = map.windows;
  const drifted = new Set();
  map.cells.forEach((row, i) => { if (row.some((c) => c && c.violated)) drifted.add(map.features[i]); });
  el.dataset.drifted = JSON.stringify([...drifted].sort());
  $("feature-buttons").innerHTML = map.features.map((f) => {
    const bad = drifted.has(f);
    const href = "#/models/" + encodeURIComponent(model) + "/features/" + encodeURIComponent(f);
    return '<a role="button" class="feature' + (bad ? " drifted" : "") + '" data-feature="' + esc(f) +
      '" data-drifted="' + bad + '" href="' + href + '" aria-label="feature ' + esc(f) +
      (bad ? ", drifted" : ", no drift") + '">' + esc(f) + "</a>";
  }).join("");
}

function drawTimeline(alerts) {
  const items = alerts.items;
  const trace = {
    type: "scatter", mode: "markers", x: items.map((a) => a.window_start),
    y: items.map((a) => a.feature + " · " + a.check_type.replace("_check", "")),
    marker: { size: 12, symbol: items.map((a) => (a.state === "ALARM" ? "x" : "circle")),
      color: items.map((a) => (a.state === "ALARM" ? "#b71c1c" : "#2e7d32")) },
    text: items.map((a) => a.state), hovertemplate: "%{y}: %{text} @ %{x}<extra></extra>",
  };
  const layout = { margin: { l: 10, r: 10, t: 10, b: 40 }, height: 80 + 24 * new Set(trace.y).size,
    xaxis: { type: "date" }, yaxis: { automargin: true } };
  Plotly.react($("timeline"), [trace], layout, PLOT_CONFIG);
  $("alerts-table").querySelector("tbody").innerHTML = items.slice().reverse().map((a) =>
    '<tr class="' + a.state.toLowerCase() + '"><td>' + fmtTime(a.window_start) + "</td><td>" +
    a.state + "</td><td>" + esc(a.check_type) + "</td><td>" + esc(a.feature) + "</td><td>" +
    fmtNum(a.value) + "</td><td>" + fmtNum(a.threshold) + "</td></tr>").join("");
}

async function renderModel(where) {
  const id = encodeURIComponent(where.model);
  const [detail, map, alerts] = await Promise.all([
    api("/models/" + id), api("/models/" + id + "/heatmap"), api("/models/" + id + "/alerts?limit=1000"),
    loadPlotly(),
  ]);
  const s = detail.summary;
  $("model-title").textContent = where.model;
  $("model-summary").innerHTML = '<span class="badge ' + s.health + '">' + s.health.replace("_", " ") +
    "</span> window " + s.window_seconds + " s · last window " +
    (s.last_window ? fmtTime(s.last_window.window_start) + " (" + s.last_window.event_count + " events)" : "–") +
    " · " + s.violations_last_day + " violations in the last day · " + s.open_alarms + " open alarms";
  show("model");
  drawHeatmap(map, where.model);
  drawTimeline(alerts);
  await renderLabels(where.model);
  $("feature").hidden = !where.feature;
  if (where.feature) await renderFeature(where.model, where.feature, where.window);
}

async function renderFeature(model, feature, window) {
  const base = "/models/" + encodeURIComponent(model) + "/features/" + encodeURIComponent(feature);
  $("feature-title").textContent = "Feature " + feature;
  const series = await api(base + "/series?limit=1440");
  drawDistance(series);
  try {
    const at = window ? "?window_start=" + encodeURIComponent(window) : "";
    drawDistribution(await api(base + "/distribution" + at));
    $("distribution-note").dataset.window = window || "";
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    Plotly.purge($("distribution"));
    $("distribution").textContent = "";
    $("distribution-note").textContent = "No distribution: " + err.message;
  }
}

function drawDistribution(dist) {
  const colors = { baseline: BASE_COLOR, window: WINDOW_COLOR };
  const numeric = dist.kind === "numeric";
  const x = numeric ? dist.edges.slice(1).map((hi, i) => (hi + dist.edges[i]) / 2) : dist.labels;
  const traces = dist.series.map((s) => ({
    type: "bar", name: s.name, x, y: s.shares, marker: { color: colors[s.name] },
    text: dist.labels, hovertemplate: "%{text}: %{y:.1%}<extra>" + s.name + "</extra>",
    textposition: "none",
  }));
  const layout = {
    title: { text: "distribution, window " + fmtTime(dist.window_start), font: { size: 13 } },
    barmode: "group", height: 280, margin: { l: 50, r: 10, t: 36, b: 60 },
    yaxis: { tickformat: ".0%" }, xaxis: { automargin: true }, legend: { orientation: "h", y: -0.35 },
  };
  Plotly.react($("distribution"), traces, layout, PLOT_CONFIG);
  $("distribution").dataset.series = String(traces.length);
  $("distribution-note").textContent = (dist.kind === "numeric"
    ? "Shares per bin from the KLL sketches; each CDF value within ±" + fmtNum(dist.error_bound) + " of exact."
    : "Top " + dist.labels.length + " of " + dist.categories_total +
      " categories; each share within ±" + fmtNum(dist.error_bound) + ".");
}

function drawDistance(series) {
  const pts = series.page.items;
  const x = pts.map((p) => p.window_start);
  const method = series.method;
  const y = pts.map((p) => (method && p.metrics.distances[method] != null ? p.metrics.distances[method] : null));
  const traces = [{ type: "scatter", mode: "lines+markers", name: method || "distance", x, y,
    line: { color: WINDOW_COLOR }, marker: { size: 4 } }];
  if (series.threshold != null && x.length) {
    traces.push({ type: "scatter", mode: "lines", name: "threshold", x: [x[0], x[x.length - 1]],
      y: [series.threshold, series.threshold], line: { color: "#b71c1c", dash: "dash" } });
  }
  Plotly.react($("distance"), traces, {
    title: { text: (method || "distance") + " over time", font: { size: 13 } }, height: 280,
    margin: { l: 50, r: 10, t: 36, b: 60 }, xaxis: { type: "date" }, legend: { orientation: "h", y: -0.35 },
  }, PLOT_CONFIG);
  Plotly.react($("quality"), [{ type: "scatter", mode: "lines", name: "completeness", x,
    y: pts.map((p) => p.metrics.completeness), line: { color: BASE_COLOR } }], {
    title: { text: "completeness (data quality)", font: { size: 13 } }, height: 280,
    margin: { l: 50, r: 10, t: 36, b: 60 }, xaxis: { type: "date" }, yaxis: { range: [0, 1.05], tickformat: ".0%" },
  }, PLOT_CONFIG);
}

// ----- model quality and bias (the label join) ---------------------------------------------
async function latestOrNull(path) {
  try {
    return await api(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

function dayBefore(iso) {
  return new Date(new Date(iso).getTime() - 86400000).toISOString();
}

// one series' newest window and its day of history (null, null: no window yet)
async function seriesDay(base, series) {
  const latest = await latestOrNull(base + "/" + series + "/latest");
  if (!latest) return [null, null];
  const start = encodeURIComponent(dayBefore(latest.window_end));
  return [latest, await api(base + "/" + series + "?limit=1000&start=" + start)];
}

async function renderLabels(model) {
  const base = "/models/" + encodeURIComponent(model);
  const [quality, bias, attribution] = await Promise.all(
    ["quality", "bias", "attribution"].map((series) => seriesDay(base, series)));
  drawQuality(...quality);
  drawBias(...bias);
  drawAttribution(...attribution);
}

function fmtBias(x) {
  return typeof x === "string" ? x : fmtNum(x);
}

// a series panel ("mq", "bias", "attr"): its table names the newest window; none yet: emptied
function openPanel(prefix, latest) {
  const table = $(prefix + "-table");
  table.dataset.window = latest ? latest.window_start : "";
  $(prefix + "-history").hidden = !latest;
  if (!latest) table.querySelector("tbody").innerHTML = "";
  return table;
}

// a dashed horizontal line across the windows (a constraint, threshold or allowed bound)
function limitTrace(name, windows, y, showlegend) {
  return { type: "scatter", mode: "lines", name, showlegend,
    x: [windows[0].window_start, windows[windows.length - 1].window_start], y: [y, y],
    line: { dash: "dash", color: "#b71c1c" } };
}

// a series panel's history chart; extra: this chart's own layout settings
function drawHistory(prefix, traces, title, extra) {
  Plotly.react($(prefix + "-history"), traces, Object.assign({
    title: { text: title, font: { size: 13 } }, height: 280, margin: { l: 50, r: 10, t: 36, b: 60 },
    xaxis: { type: "date" }, legend: { orientation: "h", y: -0.35 },
  }, extra), PLOT_CONFIG);
  $(prefix + "-history").dataset.traces = String(traces.length);
}

function drawQuality(latest, history) {
  const table = openPanel("mq", latest);
  if (!latest) return;
  $("mq-note").textContent = "Window " + fmtTime(latest.window_start) + ": " + latest.labelled +
    " of " + latest.predictions + " predictions labelled (" + (100 * latest.coverage).toFixed(0) +
    "%), " + latest.violations.length + " violation(s).";
  table.querySelector("tbody").innerHTML = latest.metrics.map((m) => {
    const rule = m.threshold == null ? "–" :
      (m.comparison_operator === "LessThanThreshold" ? "≥ " : "≤ ") + fmtNum(m.threshold);
    const verdict = m.threshold == null ? "–" : (m.violated ? "violation" : "ok");
    return '<tr data-metric="' + esc(m.name) + '" data-violated="' + m.violated + '"' +
      (m.violated ? ' class="violated"' : "") + "><td>" + esc(m.name) + "</td><td>" +
      fmtNum(m.value) + "</td><td>" + rule + "</td><td>" + verdict + "</td></tr>";
  }).join("");
  const windows = history.page.items;
  const shown = latest.metrics.filter((m) => m.threshold != null).map((m) => m.name);
  if (!shown.length) {  // no constraint: accuracy (classification) or the first metric
    const first = latest.metrics.find((m) => m.name === "accuracy") || latest.metrics[0];
    if (first) shown.push(first.name);
  }
  const traces = shown.map((name) => ({
    type: "scatter", mode: "lines+markers", name, x: windows.map((w) => w.window_start),
    y: windows.map((w) => { const m = w.metrics.find((k) => k.name === name); return m ? m.value : null; }),
  }));
  for (const m of latest.metrics.filter((k) => k.threshold != null && windows.length)) {
    traces.push(limitTrace(m.name + " constraint", windows, m.threshold, true));
  }
  drawHistory("mq", traces, "model quality per window", {});
}

function biasKey(m) {
  return m.facet + "=" + m.facet_value + "/" + m.metric;
}

function drawBias(latest, history) {
  const table = openPanel("bias", latest);
  if (!latest) return;
  $("bias-note").textContent = "Window " + fmtTime(latest.window_start) + ": " + latest.joined +
    " joined pairs, " + latest.violations + " violation(s); rule: " +
    (latest.check === "interval" ? "the whole " + latest.confidence_level + " interval" : "the value") +
    " farther from the ideal than the baseline.";
  const rows = latest.metrics.slice().sort((a, b) => (b.checked - a.checked) || (b.violated - a.violated));
  table.querySelector("tbody").innerHTML = rows.map((m) => {
    const verdict = !m.checked ? "reported" : m.violated ? "violation" : m.baseline == null ? "no baseline" : "ok";
    const interval = m.low == null ? "–" : "[" + fmtNum(m.low) + ", " + fmtNum(m.high) + "]";
    const value = m.value == null ? '<span title="' + esc(m.error) + '">–</span>' : fmtBias(m.value);
    return '<tr data-key="' + esc(biasKey(m)) + '" data-stage="' + m.stage + '" data-violated="' +
      m.violated + '"' + (m.violated ? ' class="violated"' : "") + "><td>" + esc(m.facet) + " = " +
      esc(m.facet_value) + "</td><td>" + esc(m.metric) + "</td><td>" + value + "</td><td>" +
      interval + "</td><td>" + fmtBias(m.baseline) + "</td><td>" + verdict + "</td></tr>";
  }).join("");
  const windows = history.page.items;
  const keys = [...new Set(latest.metrics.filter((m) => m.checked).map(biasKey))];
  const traces = [];
  for (const key of keys) {
    const pts = windows.map((w) => w.metrics.find((m) => m.checked && biasKey(m) === key) || null);
    const num = (v) => (typeof v === "number" ? v : null);
    traces.push({ type: "scatter", mode: "lines+markers", name: key, x: windows.map((w) => w.window_start),
      y: pts.map((p) => (p ? num(p.value) : null)),
      error_y: { type: "data", symmetric: false, visible: true,
        array: pts.map((p) => (p && p.high != null && num(p.value) != null ? p.high - p.value : null)),
        arrayminus: pts.map((p) => (p && p.low != null && num(p.value) != null ? p.value - p.low : null)) },
      marker: { color: pts.map((p) => (p && p.violated ? "#b71c1c" : "#4e79a7")) } });
    const last = latest.metrics.find((m) => m.checked && biasKey(m) === key);
    if (last && typeof last.baseline === "number" && windows.length) {
      const allowed = Math.abs(last.baseline - last.ideal);
      for (const y of [last.ideal - allowed, last.ideal + allowed]) {
        traces.push(limitTrace(key + " allowed", windows, y, y > last.ideal));
      }
    }
  }
  drawHistory("bias", traces,
    "checked bias metrics per window (bars: interval; dashed: allowed by the baseline)", { height: 300 });
}

function drawAttribution(latest, history) {
  const table = openPanel("attr", latest);
  if (!latest) return;
  $("attr-note").textContent = "Window " + fmtTime(latest.window_start) + ": " +
    latest.attributions + " events with attributions, " + latest.violations +
    " label(s) below their NDCG threshold.";
  table.querySelector("tbody").innerHTML = latest.labels.map((l) => {
    const ndcg = l.ndcg == null ? "not checked" : fmtNum(l.ndcg) + (l.violated ? " < " : " ≥ ") +
      fmtNum(l.threshold);
    return l.top_features.map((f, i) => '<tr data-label="' + esc(l.label) + '" data-feature="' +
      esc(f.feature) + '" data-violated="' + l.violated + '"' + (l.violated ? ' class="violated"' : "") +
      "><td>" + (i ? "" : esc(l.label)) + "</td><td>" + (i ? "" : ndcg) + "</td><td>" +
      esc(f.feature) + "</td><td>" + fmtNum(f.value) + "</td><td>" + fmtNum(f.baseline) +
      "</td></tr>").join("");
  }).join("");
  const windows = history.page.items;
  const labels = [...new Set(windows.flatMap((w) => w.labels.map((l) => l.label)))];
  const traces = [];
  for (const name of labels) {
    const pts = windows.map((w) => w.labels.find((l) => l.label === name) || null);
    traces.push({ type: "scatter", mode: "lines+markers", name: "NDCG " + name,
      x: windows.map((w) => w.window_start), y: pts.map((p) => (p ? p.ndcg : null)),
      marker: { color: pts.map((p) => (p && p.violated ? "#b71c1c" : BASE_COLOR)) } });
    const last = latest.labels.find((l) => l.label === name);
    if (last && last.threshold != null && windows.length) {
      traces.push(limitTrace(name + " threshold", windows, last.threshold, true));
    }
  }
  drawHistory("attr", traces, "feature attribution NDCG per window (dashed: alert below)",
    { yaxis: { range: [0, 1.05] } });
}

// ----- loop ------------------------------------------------------------------------------
async function refresh() {
  if (state.busy) return;
  state.busy = true;
  const where = route();
  crumbs(where);
  try {
    if (where.model) await renderModel(where); else await renderOverview();
    setStatus("updated " + new Date().toISOString().slice(11, 19) + " UTC · every " + POLL_MS / 1000 + " s");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      show("login");
      $("login-error").textContent = state.token ? "That token was refused." : "";
      setStatus("token needed", true);
    } else {
      setStatus("could not refresh: " + err.message, true);
    }
  } finally {
    state.busy = false;
  }
}

function start() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    state.token = decodeURIComponent(match[1]);
    sessionStorage.setItem("modelmon-token", state.token);
    history.replaceState(null, "", location.pathname + "#/");
  }
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("modelmon-token", state.token);
    refresh();
  });
  window.addEventListener("hashchange", refresh);
  refresh();
  state.timer = setInterval(refresh, POLL_MS);
}

start();
