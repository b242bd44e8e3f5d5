// The report page: a saved gradient-probe report (GET /api/report, or a JSON file opened here and read in the
// browser) drawn as the playground's gradient-flow meter, a layer × step heatmap of log10 ‖∂L/∂W‖, the findings
// and the activation sites. It marks <body data-report="<layers>x<steps>"> once drawn, for tests and tools.
import { api } from "./api.js";
import { $, fmt, mark, showError } from "./dom.js";

const SCHEMA = "sigmoidlab.gradient_probe";
const METER_DECADES = [-10, 2]; // the playground meter's scale: 1e-10 … 1e2

// The checks Report.load makes (schema, version, the keys drawn here), for a file opened in the browser.
export function checkReport(data) {
  if (!data || data.schema !== SCHEMA) return `not a gradient-probe report (schema "${SCHEMA}" expected)`;
  if (!Number.isInteger(data.schema_version) || data.schema_version > 1) {
    return `schema_version ${data.schema_version}; this page reads ≤ 1`;
  }
  for (const key of ["findings", "layers", "sites"]) if (!Array.isArray(data[key])) return `no '${key}' list`;
  const h = data.history;
  if (!h || !Array.isArray(h.steps) || typeof h.grad_norm !== "object") return "no history of gradient norms";
  return null;
}

const log10 = (v) => (typeof v === "number" && v > 0 ? Math.log10(v) : null);
const superscript = (d) => (d === 0 ? "1" : `10${String(d).replace("-", "⁻").replace(/\d/g, (c) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[c])}`);

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawSummary(data) {
  $("verdict").textContent = data.healthy ? "Healthy: no findings" : `Findings: ${[...new Set(data.findings.map((f) => f.kind))].join(", ")}`;
  $("verdict").className = data.healthy ? "good" : "bad";
  const model = data.model || {};
  $("summary").textContent = `${model.class || "model"}: ${data.samples} samples over ${data.steps} optimiser ` +
    `steps (every ${(data.settings || {}).every ?? "?"}); ${data.layers.length} layers, ${data.sites.length} activation sites.`;
  $("findings").replaceChildren(...data.findings.map((f) => {
    const li = document.createElement("li"); // the message starts with the kind
    li.append(`${f.message} `, span("remedy", `Remedy: ${f.remedy}`));
    return li;
  }));
}

function drawMeter(data) {
  const [lo, hi] = METER_DECADES;
  const fit = new Set((data.flow && data.flow.layers) || []);
  const rows = data.layers.map((layer) => {
    const row = span("meter-row");
    row.classList.add("report-meter-row");
    const track = span("meter-track");
    const bar = span("meter-bar");
    const g = log10(layer.grad_norm);
    bar.style.width = `${g === null ? 0 : Math.max(0, Math.min(1, (g - lo) / (hi - lo))) * 100}%`;
    track.append(bar);
    const ratio = layer.update_ratio_log10;
    const value = `${layer.grad_norm == null ? "–" : layer.grad_norm.toExponential(1)}` +
      (ratio == null ? "" : ` · ΔW/W 10^${ratio.toFixed(1)}`);
    row.append(span("meter-name", `${fit.has(layer.name) ? "● " : ""}${layer.name}`), track, span("meter-value", value));
    row.title = layer.name;
    return row;
  });
  const scale = span("meter-scale");
  for (let d = lo; d <= hi; d += 2) {
    const tick = span("", superscript(d));
    tick.style.left = `${((d - lo) / (hi - lo)) * 100}%`;
    scale.append(tick);
  }
  const axis = span("meter-axis");
  axis.classList.add("report-meter-row");
  axis.append(span(""), scale);
  $("grad-meter").replaceChildren(...rows, axis);
  $("grad-meter").dataset.bars = String(rows.length);
}

// Blue (small) → yellow → red (large) over [lo, hi]; grey where the layer had no gradient at that step.
function colour(t) {
  const stops = [[33, 113, 181], [255, 237, 160], [214, 39, 40]];
  const [a, b, u] = t < 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2];
  return `rgb(${a.map((c, i) => Math.round(c + (b[i] - c) * u)).join(",")})`;
}

function drawHeatmap(data) {
  const canvas = $("heatmap");
  const names = data.layers.map((l) => l.name).filter((n) => n in data.history.grad_norm);
  const steps = data.history.steps;
  const cells = names.map((n) => data.history.grad_norm[n].map(log10));
  const finite = cells.flat().filter((v) => v !== null && Number.isFinite(v));
  const lo = finite.length ? Math.floor(Math.min(...finite)) : -1;
  const hi = finite.length ? Math.max(lo + 1, Math.ceil(Math.max(...finite))) : 0;
  const ctx = canvas.getContext("2d");
  const left = 120, bottom = 22, w = canvas.width - left - 8, h = canvas.height - bottom - 4;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const cw = w / Math.max(1, steps.length), ch = h / Math.max(1, names.length);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  names.forEach((name, r) => {
    ctx.fillStyle = "#1f2328";
    ctx.textAlign = "right";
    ctx.fillText(name.length > 18 ? `…${name.slice(-17)}` : name, left - 6, 4 + (r + 0.5) * ch);
    cells[r].forEach((v, c) => {
      ctx.fillStyle = v === null ? "#d8dee4" : colour((v - lo) / (hi - lo));
      ctx.fillRect(left + c * cw, 4 + r * ch, Math.ceil(cw), Math.ceil(ch));
    });
  });
  ctx.fillStyle = "#5b6470";
  ctx.textAlign = "center";
  const every = Math.max(1, Math.ceil(steps.length / 10));
  steps.forEach((s, c) => c % every === 0 && ctx.fillText(String(s), left + (c + 0.5) * cw, canvas.height - 10));
  $("heat-legend").textContent = `blue 10^${lo} … red 10^${hi}; grey: no gradient; x: optimiser step`;
  canvas.dataset.cells = String(names.length * steps.length);
  return `${names.length}x${steps.length}`;
}

function drawSites(data) {
  const head = document.createElement("tr");
  for (const t of ["site", "dtype", "vanishing band", "dead units", "flushed"]) {
    const th = document.createElement("th");
    th.textContent = t;
    head.append(th);
  }
  const pct = (v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`);
  const rows = data.sites.map((s) => {
    const tr = document.createElement("tr");
    for (const v of [s.name, s.dtype, pct(s.band_fraction), pct(s.dead_fraction), fmt(s.flush_count, 0)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  });
  $("sites").replaceChildren(head, ...rows);
}

function show(data) {
  const problem = checkReport(data);
  if (problem) {
    showError(`cannot show this report: ${problem}`);
    return;
  }
  showError("");
  drawSummary(data);
  drawMeter(data);
  mark("report", drawHeatmap(data));
  drawSites(data);
}

async function openFile(file) {
  try {
    show(JSON.parse(await file.text()));
  } catch (error) {
    showError(`${file.name}: not valid JSON (${error.message})`);
  }
}

async function main() {
  $("report-file").addEventListener("change", (e) => e.target.files[0] && openFile(e.target.files[0]));
  try {
    // Ask first: a 404 from /api/report would be a console error in a page that is fine without a report.
    if ((await api("GET", "/api/options")).report) show(await api("GET", "/api/report"));
  } catch (error) {
    showError(`cannot load the report: ${error.message}`);
  }
  mark("ready", 1);
}

main();
