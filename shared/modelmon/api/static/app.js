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
