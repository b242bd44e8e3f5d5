// sigmoidlab playground: builds the controls from /api/options, keeps the configuration in the URL, drives one
// training session on the server and draws the frames it streams (Server-Sent Events). No libraries: canvas only.
"use strict";

const $ = (id) => document.getElementById(id);
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const COLORS = { c0: [232, 126, 36], c1: [33, 113, 181], pos: "#2171b5", neg: "#e87e24", sat: "#d62728" };
const PRESETS = {
  xor: { dataset: "xor", hidden: [4], activation: ["sigmoid"], batchnorm: false, init: "glorot_uniform",
    optimizer: "adam", lr: 0.03, loss: "bce" },
  deep: { dataset: "circles", hidden: [8, 8, 8, 8, 8, 8], activation: Array(6).fill("sigmoid"), batchnorm: false,
    init: "standard", optimizer: "sgd", lr: 0.3, loss: "bce" },
  "deep-bn": { dataset: "circles", hidden: [8, 8, 8, 8, 8, 8], activation: Array(6).fill("sigmoid"), batchnorm: true,
    init: "standard", optimizer: "sgd", lr: 0.3, loss: "bce" },
  "deep-relu": { dataset: "circles", hidden: [8, 8, 8, 8, 8, 8], activation: Array(6).fill("relu"), batchnorm: false,
    init: "he_uniform", optimizer: "sgd", lr: 0.03, loss: "bce" },
};

let options = null; // enums, bounds and defaults from the server
let config = null; // the current configuration (same keys as the JSON API and the URL)
let speed = 6;
let explorerX = 0;
let session = null; // session id
let source = null; // EventSource
let points = null; // train/test points and the heatmap extent
let frame = null; // the latest frame
let upload = null; // {token, name} of an uploaded CSV

// --- errors and status ---------------------------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error((data && data.error) || `${method} ${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// --- URL state -----------------------------------------------------------------------------------------------

function configFromURL() {
  const q = new URLSearchParams(location.search);
  const c = { ...options.defaults };
  const num = (key) => (q.has(key) ? Number(q.get(key)) : c[key]);
  if (q.has("dataset")) c.dataset = q.get("dataset");
  for (const key of ["noise", "n_samples", "test_fraction", "lr", "batch_size", "seed", "threshold"]) c[key] = num(key);
  for (const key of ["init", "optimizer", "loss"]) if (q.has(key)) c[key] = q.get(key);
  if (q.has("hidden")) c.hidden = q.get("hidden") === "" ? [] : q.get("hidden").split(",").map(Number);
  if (q.has("activation")) c.activation = q.get("activation") === "" ? [] : q.get("activation").split(",");
  if (c.activation.length !== c.hidden.length) c.activation = c.hidden.map((_, i) => c.activation[i] || "sigmoid");
  if (q.has("batchnorm")) c.batchnorm = q.get("batchnorm") === "1";
  if (q.has("speed")) speed = Number(q.get("speed"));
  if (q.has("x")) explorerX = Number(q.get("x"));
  if (c.dataset === "upload") {
    // An upload lives on the server for a while only; a shared link cannot carry the file itself.
    c.dataset = options.defaults.dataset;
    showError("This link used an uploaded CSV, which is not part of the link: upload the file again.");
  }
  delete c.upload;
  return c;
}

function writeURL() {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(config)) {
    if (key === "upload") continue;
    if (Array.isArray(value)) q.set(key, value.join(","));
    else if (typeof value === "boolean") q.set(key, value ? "1" : "0");
    else q.set(key, String(value));
  }
  q.set("speed", String(speed));
  q.set("x", String(explorerX));
  history.replaceState(null, "", "?" + q.toString());
}

// --- controls ------------------------------------------------------------------------------------------------

function fillSelect(select, values, label = (v) => v) {
  select.replaceChildren(...values.map((v) => new Option(label(v), String(v))));
}

function buildControls() {
  fillSelect($("dataset"), options.datasets.filter((d) => d !== "upload"));
  fillSelect($("init"), options.inits, (v) => v.replace("_", " "));
  fillSelect($("optimizer"), options.optimizers, (v) => ({ sgd: "SGD", momentum: "SGD + momentum 0.9",
    adam: "Adam", rmsprop: "RMSProp" })[v] || v);
  fillSelect($("lr"), LEARNING_RATES);
  const range = (id, [lo, hi]) => Object.assign($(id), { min: lo, max: hi });
  range("noise", options.noise);
  range("n_samples", options.n_samples);
  range("test_fraction", options.test_fraction);
  range("batch_size", options.batch_size);
  range("seed", options.seed);
  range("speed", options.speed);
}

function renderLayers() {
  const list = $("layers");
  list.replaceChildren();
  config.hidden.forEach((units, i) => {
    const item = document.createElement("li");
    const unitsInput = Object.assign(document.createElement("input"), {
      type: "number", min: 1, max: options.max_units, value: units, className: "units",
    });
    unitsInput.setAttribute("aria-label", `units in hidden layer ${i + 1}`);
    unitsInput.addEventListener("change", () => {
      config.hidden[i] = Number(unitsInput.value);
      changed();
    });
    const act = document.createElement("select");
    act.className = "activation";
    act.setAttribute("aria-label", `activation of hidden layer ${i + 1}`);
    fillSelect(act, options.activations, (v) => ({ relu: "ReLU" })[v] || v);
    act.value = config.activation[i];
    act.addEventListener("change", () => {
      config.activation[i] = act.value;
      changed();
    });
    item.append(unitsInput, " units, ", act);
    list.append(item);
  });
  $("n-layers").textContent = String(config.hidden.length);
  $("add-layer").disabled = config.hidden.length >= options.max_hidden_layers;
  $("remove-layer").disabled = config.hidden.length === 0;
}

function showConfig() {
  const uploaded = config.dataset === "upload";
  if (uploaded && ![...$("dataset").options].some((o) => o.value === "upload")) {
    $("dataset").append(new Option(`upload: ${upload.name}`, "upload"));
  }
  $("dataset").value = config.dataset;
  for (const key of ["noise", "n_samples", "test_fraction", "batch_size", "seed", "init", "optimizer", "loss"]) {
    $(key).value = String(config[key]);
  }
  $("noise").disabled = $("n_samples").disabled = uploaded;
  $("noise-value").textContent = config.noise.toFixed(2);
  $("test_fraction-value").textContent = config.test_fraction.toFixed(2);
  if (!LEARNING_RATES.includes(config.lr)) $("lr").append(new Option(String(config.lr), String(config.lr)));
  $("lr").value = String(config.lr);
  $("batchnorm").checked = config.batchnorm;
  $("threshold").value = String(config.threshold);
  $("speed").value = String(speed);
  $("x").value = String(explorerX);
  renderLayers();
}

function readControls() {
  config.dataset = $("dataset").value;
  config.upload = config.dataset === "upload" ? upload.token : null;
  for (const key of ["noise", "test_fraction", "lr", "threshold"]) config[key] = Number($(key).value);
  for (const key of ["n_samples", "batch_size", "seed"]) config[key] = Math.round(Number($(key).value));
  for (const key of ["init", "optimizer", "loss"]) config[key] = $(key).value;
  config.batchnorm = $("batchnorm").checked;
}

let changeTimer = null;
function changed() {
  readControls();
  showConfig();
  writeURL();
  clearTimeout(changeTimer);
  changeTimer = setTimeout(applyConfig, 200); // one request per burst of slider movement
}

async function applyConfig() {
  try {
    if (!session) await startSession();
    else await api("PUT", `/api/sessions/${session}`, config);
    showError("");
    playing(false);
  } catch (error) {
    if (error.status === 404) return startSession().catch((e) => showError(e.message));
    showError(error.message);
  }
}

function applyPreset(name) {
  config = { ...config, ...structuredClone(PRESETS[name]), upload: null };
  showConfig();
  writeURL();
  applyConfig();
}

// --- session and stream --------------------------------------------------------------------------------------

async function startSession() {
  if (source) source.close();
  session = null;
  const info = await api("POST", "/api/sessions", { ...config, speed });
  session = info.id;
  source = new EventSource(`/api/sessions/${session}/stream`);
  source.addEventListener("data", (e) => {
    points = JSON.parse(e.data);
  });
  source.addEventListener("frame", (e) => {
    frame = JSON.parse(e.data);
    render();
  });
  source.addEventListener("closed", (e) => {
    source.close();
    session = null;
    playing(false);
    setStatus("closed", "bad");
    showError(JSON.parse(e.data).error + " — press Play or change a setting to start again.");
  });
  showError("");
}

async function control(action, extra = {}) {
  try {
    if (!session) await startSession();
    const info = await api("POST", `/api/sessions/${session}/control`, { action, ...extra });
    playing(info.status === "running");
    showError("");
  } catch (error) {
    if (error.status === 404) {
      session = null;
      return control(action, extra);
    }
    playing(false);
    showError(error.message);
  }
}

// The server closes a session that has had no request and delivered no frame for options.idle_timeout seconds,
// so that tabs nobody looks at do not hold its few slots. While this page is shown, it says it is still here.
function heartbeat() {
  if (session && document.visibilityState === "visible") {
    api("GET", `/api/sessions/${session}`).catch(() => {}); // a closed session says so on its stream
  }
}

let isPlaying = false;
function playing(on) {
  isPlaying = on;
  $("play").textContent = on ? "❚❚ Pause" : "▶ Play";
}

// --- drawing -------------------------------------------------------------------------------------------------

function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toFixed(digits) : value.toExponential(2);
}

function render() {
  if (!frame) return;
  $("epoch").textContent = String(frame.epoch);
  $("step-count").textContent = String(frame.step);
  $("train-loss").textContent = fmt(frame.train_loss);
  $("test-loss").textContent = fmt(frame.test_loss);
  $("train-accuracy").textContent = frame.train_accuracy.toFixed(3);
  $("test-accuracy").textContent = frame.test_accuracy.toFixed(3);
  if (frame.status === "diverged") {
    playing(false);
    setStatus("diverged", "bad");
    showError(frame.message);
  } else {
    setStatus(frame.status, frame.status === "running" ? "good" : "");
    playing(frame.status === "running");
  }
  drawBoundary();
  drawCurves();
  drawMeter();
  drawNetwork();
}

function setupCanvas(canvas) {
  // Canvases stretch with the layout (CSS width 100%): keep their pixel width equal to the width shown.
  const width = Math.round(canvas.clientWidth);
  if (width > 0 && canvas.width !== width) {
    canvas.height = Math.round((canvas.height * width) / canvas.width);
    canvas.width = width;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px system-ui, sans-serif";
  return ctx;
}

function probabilityColor(p) {
  // Orange (class 0) through white (0.5) to blue (class 1).
  const [a, b] = p < 0.5 ? [COLORS.c0, [255, 255, 255]] : [[255, 255, 255], COLORS.c1];
  const t = p < 0.5 ? p * 2 : (p - 0.5) * 2;
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}

const heatmap = document.createElement("canvas");
function drawBoundary() {
  const canvas = $("boundary");
  const ctx = setupCanvas(canvas);
  if (!points) return;
  const pad = 28;
  const size = canvas.width - pad - 6;
  const [x0, x1, y0, y1] = points.extent;
  const n = frame.grid.length;
  heatmap.width = heatmap.height = n;
  const hctx = heatmap.getContext("2d");
  const image = hctx.createImageData(n, n);
  frame.grid.forEach((row, i) => row.forEach((p, j) => {
    const k = ((n - 1 - i) * n + j) * 4; // row 0 of the grid is the bottom of the plot
    const [r, g, b] = p === null ? [200, 200, 200] : probabilityColor(p);
    image.data.set([r, g, b, 200], k);
  }));
  hctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heatmap, pad, 6, size, size);
  const px = (x) => pad + ((x - x0) / (x1 - x0)) * size;
  const py = (y) => 6 + size - ((y - y0) / (y1 - y0)) * size;
  for (const [set, filled] of [[points.train, true], [points.test, false]]) {
    set.x.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
      const color = `rgb(${(set.y[i] ? COLORS.c1 : COLORS.c0).join(",")})`;
      ctx.lineWidth = filled ? 1 : 1.6;
      if (filled) {
        ctx.fillStyle = color;
        ctx.fill();
        ctx.strokeStyle = "#fff";
      } else {
        ctx.strokeStyle = color;
      }
      ctx.stroke();
    });
  }
  ctx.strokeStyle = "#888";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad, 6, size, size);
  ctx.fillStyle = "#555";
  ctx.textAlign = "center";
  ctx.fillText(`${points.features[0]}: ${x0.toFixed(1)} … ${x1.toFixed(1)}`, pad + size / 2, canvas.height - 4);
  ctx.save();
  ctx.translate(12, 6 + size / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${points.features[1]}: ${y0.toFixed(1)} … ${y1.toFixed(1)}`, 0, 0);
  ctx.restore();
}

function drawCurves() {
  const canvas = $("curves");
  const ctx = setupCanvas(canvas);
  const rows = frame.history.filter((r) => r[1] !== null && r[2] !== null);
  const left = 46, top = 8, w = canvas.width - left - 10, h = canvas.height - top - 24;
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(left, top, w, h);
  if (rows.length < 1) return;
  const maxStep = Math.max(1, rows[rows.length - 1][0]);
  const maxLoss = Math.max(...rows.map((r) => Math.max(r[1], r[2]))) * 1.05 || 1;
  const x = (s) => left + (s / maxStep) * w;
  const y = (v) => top + h - (v / maxLoss) * h;
  ctx.fillStyle = "#555";
  ctx.textAlign = "right";
  for (const v of [0, maxLoss / 2, maxLoss]) ctx.fillText(v.toPrecision(2), left - 4, y(v) + 4);
  ctx.textAlign = "center";
  ctx.fillText(`step (0 … ${maxStep})`, left + w / 2, canvas.height - 6);
  for (const [col, color, dash] of [[1, COLORS.pos, []], [2, COLORS.neg, [5, 3]]]) {
    ctx.beginPath();
    ctx.setLineDash(dash);
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    rows.forEach((r, i) => (i ? ctx.lineTo(x(r[0]), y(r[col])) : ctx.moveTo(x(r[0]), y(r[col]))));
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

const METER_DECADES = [-10, 2]; // the log scale spans 1e-10 … 1e2
function drawMeter() {
  const meter = $("grad-meter");
  const [lo, hi] = METER_DECADES;
  const rows = frame.layers.map((layer, k) => {
    const row = document.createElement("div");
    row.className = "meter-row";
    const name = document.createElement("span");
    name.className = "meter-name";
    const fanIn = k === 0 ? 2 : frame.layers[k - 1].units;
    name.textContent = `${k + 1}. ${fanIn}→${layer.units} ${layer.activation}`;
    const track = document.createElement("span");
    track.className = "meter-track";
    const bar = document.createElement("span");
    bar.className = "meter-bar";
    const g = layer.grad_norm;
    const position = g && g > 0 ? (Math.log10(g) - lo) / (hi - lo) : 0;
    bar.style.width = `${Math.max(0, Math.min(1, position)) * 100}%`;
    track.append(bar);
    const sat = document.createElement("span");
    sat.className = "meter-sat";
    const fill = document.createElement("span");
    fill.style.width = `${(layer.saturation || 0) * 100}%`;
    sat.append(fill);
    sat.title = "fraction of unit·sample pairs in the vanishing region";
    const value = document.createElement("span");
    value.className = "meter-value";
    value.textContent = `${g === null ? "–" : g.toExponential(1)}` +
      (layer.saturation === null ? "" : ` · ${(layer.saturation * 100).toFixed(0)}% vanishing`);
    row.append(name, track, sat, value);
    return row;
  });
  const axis = document.createElement("div");
  axis.className = "meter-axis";
  const scale = document.createElement("span");
  scale.className = "meter-scale";
  for (let d = lo; d <= hi; d += 2) {
    const tick = document.createElement("span");
    tick.textContent = d === 0 ? "1" : `10${String(d).replace("-", "⁻").replace(/\d/g, (c) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[c])}`;
    tick.style.left = `${((d - lo) / (hi - lo)) * 100}%`;
    scale.append(tick);
  }
  axis.append(document.createElement("span"), scale);
  meter.replaceChildren(...rows, axis);
  meter.dataset.bars = String(rows.length);
}

function drawNetwork() {
  const canvas = $("network");
  const ctx = setupCanvas(canvas);
  const sizes = [2, ...frame.layers.map((l) => l.units)];
  const shown = sizes.map((n, k) => (k === 0 ? 2 : frame.weights[k - 1][0].length));
  const columns = sizes.length;
  const x = (k) => 40 + (k * (canvas.width - 80)) / (columns - 1);
  const y = (k, i) => 22 + ((i + 0.5) * (canvas.height - 44)) / shown[k];
  const maxW = Math.max(1e-9, ...frame.weights.flat(2).map(Math.abs));
  frame.weights.forEach((W, k) => {
    W.forEach((row, i) => row.forEach((w, j) => {
      ctx.beginPath();
      ctx.moveTo(x(k), y(k, i));
      ctx.lineTo(x(k + 1), y(k + 1, j));
      ctx.strokeStyle = w >= 0 ? COLORS.pos : COLORS.neg;
      ctx.globalAlpha = 0.75;
      ctx.lineWidth = Math.max(0.2, (6 * Math.abs(w)) / maxW);
      ctx.stroke();
    }));
  });
  ctx.globalAlpha = 1;
  ctx.textAlign = "center";
  sizes.forEach((n, k) => {
    for (let i = 0; i < shown[k]; i++) {
      ctx.beginPath();
      ctx.arc(x(k), y(k, i), 6, 0, 2 * Math.PI);
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.strokeStyle = "#444";
      ctx.lineWidth = 1.2;
      ctx.stroke();
    }
    const label = k === 0 ? "input" : k === columns - 1 ? "output σ" : frame.layers[k - 1].activation;
    ctx.fillStyle = "#333";
    ctx.fillText(label + (shown[k] < n ? ` (${shown[k]} of ${n})` : ""), x(k), 12);
  });
}

// --- sigmoid explorer ----------------------------------------------------------------------------------------

let explorerTimer = null;
async function updateExplorer() {
  $("x-value").textContent = explorerX.toFixed(1);
  try {
    const v = await api("GET", `/api/sigmoid?x=${explorerX}&threshold=${config.threshold}`);
    $("v-sigmoid").textContent = String(v.sigmoid);
    $("v-grad").textContent = String(v.sigmoid_grad);
    $("v-grad-output").textContent = String(v.sigmoid_grad_from_output);
    $("v-second").textContent = String(v.sigmoid_second_grad);
    $("v-edge").textContent = `|x| > ${v.vanishing_edge.toFixed(3)}` + (v.vanishing ? " — x is in it" : "");
    drawSigmoid(v);
  } catch (error) {
    showError(error.message);
  }
}

function drawSigmoid(v) {
  const canvas = $("sigmoid-plot");
  const ctx = setupCanvas(canvas);
  const left = 34, top = 10, w = canvas.width - left - 10, h = canvas.height - top - 26;
  const xs = v.curve.x, x0 = xs[0], x1 = xs[xs.length - 1];
  const px = (x) => left + ((x - x0) / (x1 - x0)) * w;
  const py = (y) => top + h - y * h;
  ctx.fillStyle = "rgba(214, 39, 40, 0.12)";
  const edge = Math.min(v.vanishing_edge, x1);
  ctx.fillRect(left, top, px(-edge) - left, h);
  ctx.fillRect(px(edge), top, left + w - px(edge), h);
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(left, top, w, h);
  ctx.fillStyle = "#555";
  ctx.textAlign = "center";
  for (let t = -10; t <= 10; t += 5) ctx.fillText(String(t), px(t), canvas.height - 8);
  ctx.textAlign = "right";
  for (const t of [0, 0.25, 0.5, 1]) ctx.fillText(String(t), left - 4, py(t) + 4);
  for (const [key, color, scale] of [["sigmoid", COLORS.pos, 1], ["sigmoid_grad", COLORS.neg, 1]]) {
    ctx.beginPath();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    v.curve[key].forEach((y, i) => (i ? ctx.lineTo(px(xs[i]), py(y * scale)) : ctx.moveTo(px(xs[i]), py(y))));
    ctx.stroke();
  }
  ctx.textAlign = "left";
  ctx.fillStyle = COLORS.pos;
  ctx.fillText("σ(x)", px(6), py(0.93));
  ctx.fillStyle = COLORS.neg;
  ctx.fillText("σ′(x)", px(1.6), py(0.24));
  ctx.fillStyle = COLORS.sat;
  ctx.fillText("vanishing", left + 4, top + 14);
  const cx = px(Math.max(x0, Math.min(x1, v.x)));
  ctx.strokeStyle = "#333";
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(cx, top);
  ctx.lineTo(cx, top + h);
  ctx.stroke();
  ctx.setLineDash([]);
  for (const [y, color] of [[v.sigmoid, COLORS.pos], [v.sigmoid_grad, COLORS.neg]]) {
    ctx.beginPath();
    ctx.arc(cx, py(y), 4, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
  }
}

// --- wiring --------------------------------------------------------------------------------------------------

async function uploadCSV(file) {
  const form = new FormData();
  form.append("file", file);
  if ($("target").value.trim()) form.append("target", $("target").value.trim());
  try {
    const result = await api("POST", "/api/uploads", form);
    upload = { token: result.upload, name: file.name };
    [...$("dataset").options].filter((o) => o.value === "upload").forEach((o) => o.remove());
    $("dataset").append(new Option(`upload: ${file.name} (${result.rows} rows)`, "upload"));
    $("dataset").value = "upload";
    changed();
  } catch (error) {
    showError(error.message);
  }
}

function wire() {
  for (const id of ["dataset", "noise", "n_samples", "test_fraction", "batchnorm", "init", "optimizer", "lr",
    "batch_size", "loss", "seed"]) {
    $(id).addEventListener(id === "noise" || id === "test_fraction" ? "input" : "change", changed);
  }
  $("add-layer").addEventListener("click", () => {
    config.hidden.push(4);
    config.activation.push(config.activation[config.activation.length - 1] || "sigmoid");
    changed();
  });
  $("remove-layer").addEventListener("click", () => {
    config.hidden.pop();
    config.activation.pop();
    changed();
  });
  $("play").addEventListener("click", () => control(isPlaying ? "pause" : "play"));
  $("step").addEventListener("click", () => control("step"));
  $("reset").addEventListener("click", () => control("reset"));
  $("speed").addEventListener("change", () => {
    speed = Number($("speed").value);
    writeURL();
    if (session) control("speed", { speed });
  });
  $("x").addEventListener("input", () => {
    explorerX = Number($("x").value);
    writeURL();
    clearTimeout(explorerTimer);
    explorerTimer = setTimeout(updateExplorer, 30);
  });
  $("threshold").addEventListener("change", () => {
    changed();
    updateExplorer();
  });
  $("csv").addEventListener("change", () => $("csv").files[0] && uploadCSV($("csv").files[0]));
  document.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => applyPreset(b.dataset.preset)));
  window.addEventListener("pagehide", () => {
    if (session) fetch(`/api/sessions/${session}`, { method: "DELETE", keepalive: true });
  });
}

async function main() {
  try {
    options = await api("GET", "/api/options");
  } catch (error) {
    showError(`cannot reach the server: ${error.message}`);
    return;
  }
  speed = options.default_speed;
  setInterval(heartbeat, (Math.max(1, options.idle_timeout) * 1000) / 3);
  document.addEventListener("visibilitychange", heartbeat);
  buildControls();
  config = configFromURL();
  showConfig();
  writeURL();
  wire();
  updateExplorer();
  try {
    await startSession();
  } catch (error) {
    setStatus("error", "bad");
    showError(error.message);
  }
}

main();
