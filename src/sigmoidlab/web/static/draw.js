// Drawing a frame: the metrics, the decision boundary, the loss curves, the gradient-flow meter and the network
// (network.js). Canvas only, no libraries.
import { $, fmt, setPlaying, setStatus, showError } from "./dom.js";
import { drawNetwork } from "./network.js";
import { COLORS, probabilityColor, setupCanvas } from "./paint.js";
import { state } from "./state.js";

export function render() {
  const { frame } = state;
  if (!frame) return;
  $("epoch").textContent = String(frame.epoch);
  $("step-count").textContent = String(frame.step);
  $("train-loss").textContent = fmt(frame.train_loss);
  $("test-loss").textContent = fmt(frame.test_loss);
  $("train-accuracy").textContent = fmt(frame.train_accuracy, 3); // null for regression: "–"
  $("test-accuracy").textContent = fmt(frame.test_accuracy, 3);
  if (frame.status === "diverged") {
    setPlaying(false);
    setStatus("diverged", "bad");
    showError(frame.message);
  } else {
    setStatus(frame.status, frame.status === "running" ? "good" : "");
    setPlaying(frame.status === "running");
  }
  drawBoundary();
  drawCurves();
  drawMeter();
  drawNetwork();
}

// A point's colour: its class, or for regression its target in [−1, 1] on the heatmap's scale.
function pointColor(value, regression) {
  if (!regression) return value ? COLORS.c1 : COLORS.c0;
  return probabilityColor(Math.max(0, Math.min(1, (value + 1) / 2)));
}

const heatmap = document.createElement("canvas");
function drawBoundary() {
  const { frame, points, view } = state;
  const canvas = $("boundary");
  const ctx = setupCanvas(canvas);
  if (!points) return;
  const regression = frame.config.problem === "regression";
  $("boundary-title").textContent = regression ? "Output (regression)" : "Decision boundary: P(class 1)";
  $("legend-low").textContent = regression ? "−1" : "0";
  $("legend-high").textContent = "1";
  const pad = 28;
  const size = canvas.width - pad - 6;
  const [x0, x1, y0, y1] = points.extent;
  const n = frame.grid.length;
  heatmap.width = heatmap.height = n;
  const hctx = heatmap.getContext("2d");
  const image = hctx.createImageData(n, n);
  frame.grid.forEach((row, i) => row.forEach((p, j) => {
    const k = ((n - 1 - i) * n + j) * 4; // row 0 of the grid is the bottom of the plot
    const shown = view.discretize && p !== null ? (p < 0.5 ? 0 : 1) : p; // TF Playground's "discretize output"
    const [r, g, b] = shown === null ? [200, 200, 200] : probabilityColor(shown);
    image.data.set([r, g, b, 200], k);
  }));
  hctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heatmap, pad, 6, size, size);
  const px = (x) => pad + ((x - x0) / (x1 - x0)) * size;
  const py = (y) => 6 + size - ((y - y0) / (y1 - y0)) * size;
  const sets = view.show_test ? [[points.train, true], [points.test, false]] : [[points.train, true]];
  canvas.dataset.testShown = String(view.show_test); // for the browser tests
  canvas.dataset.discretized = String(view.discretize);
  for (const [set, filled] of sets) {
    set.x.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
      const color = `rgb(${pointColor(set.y[i], regression).join(",")})`;
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
  const { frame } = state;
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
  const { frame } = state;
  const meter = $("grad-meter");
  const [lo, hi] = METER_DECADES;
  const rows = frame.layers.map((layer, k) => {
    const row = document.createElement("div");
    row.className = "meter-row";
    const name = document.createElement("span");
    name.className = "meter-name";
    const fanIn = k === 0 ? frame.config.features.length : frame.layers[k - 1].units;
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
