// The network diagram: links coloured by the weight's sign, as wide as |w|; each hidden unit drawn as a thumbnail
// of its activation (or, in the derivative view, of f′(z) with the vanishing region in red) over the input plane.
// The server computes and quantises the thumbnails (sigmoidlab/web/thumbnails.py); here they are only painted.
// Hovering a link or a unit shows its value in #network-tip.
import { $ } from "./dom.js";
import { COLORS, VANISHING_RGB, probabilityColor, setupCanvas } from "./paint.js";
import { state } from "./state.js";

const THUMB = 30; // pixels per thumbnail side
const ROW = THUMB + 8; // vertical pitch of the units when thumbnails are shown
const VANISHING = 0; // the derivative view's byte for the vanishing region (thumbnails.py)
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(0)}%`);
const num = (v) => (v === null ? "–" : String(Number(v.toPrecision(3))).replace("-", "−"));

let hits = []; // what the last drawing put where: units (boxes) and links (segments), for the tooltip
let pointer = null; // the last pointer position over the canvas, to refresh the tooltip with each frame

function decode(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// The colour of one quantised value: the activation on the boundary's orange–white–blue scale (low to high end
// of the unit's range), or f′(z) from white (0) to dark grey (max f′), red where the gradient vanishes.
function thumbColor(q, mode) {
  if (mode !== "derivative") return probabilityColor(q / 255);
  if (q === VANISHING) return VANISHING_RGB;
  const g = Math.round(255 - ((q - 1) / 254) * 200);
  return [g, g, g];
}

const tile = document.createElement("canvas");
function paintThumb(ctx, bytes, unit, size, mode, x, y) {
  tile.width = tile.height = size;
  const tctx = tile.getContext("2d");
  const image = tctx.createImageData(size, size);
  const offset = unit * size * size;
  let red = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const q = bytes[offset + i * size + j];
      if (mode === "derivative" && q === VANISHING) red++;
      image.data.set([...thumbColor(q, mode), 255], ((size - 1 - i) * size + j) * 4); // row 0 is the bottom
    }
  }
  tctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false; // crisp cells: each is one grid point
  ctx.drawImage(tile, x, y, THUMB, THUMB);
  ctx.strokeStyle = "#444";
  ctx.lineWidth = 1;
  ctx.strokeRect(x - 0.5, y - 0.5, THUMB + 1, THUMB + 1);
  return red / (size * size);
}

// A hidden unit's hover text: its name, its saturation on the training set (the meter's pass) and, with a
// thumbnail (t, in view mode), the colour scale.
function unitText(k, unit, frame, t, mode, red) {
  const layer = frame.layers[k];
  const sat = layer.unit_saturation ? layer.unit_saturation[unit] : null;
  const text = `layer ${k + 1}, unit ${unit + 1} (${layer.activation}): ${pct(sat)} of the training set in the ` +
    "vanishing region";
  if (!t) return text;
  if (mode === "derivative") {
    return `${text}; f′(z) from 0 (white) to ${num(t.hi[unit])} (dark), red: vanishing (${pct(red)} of the plane)`;
  }
  return `${text}; colour from ${num(t.lo[unit])} (orange) to ${num(t.hi[unit])} (blue)`;
}

// The legend under the diagram: what the thumbnails' colours mean, per layer.
function legend(thumbs) {
  if (!thumbs) return "";
  if (thumbs.mode === "derivative") {
    return "Units: f′(z) over the input plane, white = 0 to dark = the activation's max f′; red: the gradient " +
      `vanishes (the gradient-flow meter's rule, threshold ${thumbs.threshold}).`;
  }
  const same = (a) => a.every((v) => v === a[0]);
  const ranges = thumbs.layers.map((t) => {
    const lo = same(t.lo) ? num(t.lo[0]) : "the unit's min";
    const hi = same(t.hi) ? num(t.hi[0]) : "the unit's max";
    return `layer ${t.layer + 1} ${t.activation} ${lo} … ${hi}`;
  });
  return `Units: activation over the input plane, orange (low) → white → blue (high) on its range: ${ranges.join("; ")}.`;
}

function layout(canvas, frame, thumbs) {
  const sizes = [frame.config.features.length, ...frame.layers.map((l) => l.units)];
  const shown = sizes.map((n, k) => (k === 0 ? frame.weights[0].length : frame.weights[k - 1][0].length));
  const width = Math.round(canvas.clientWidth) || canvas.width;
  const height = thumbs ? Math.max(220, 40 + Math.max(...shown) * ROW) : Math.round((260 * width) / 900);
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  const x = (k) => 70 + (k * (canvas.width - 110)) / (sizes.length - 1); // room on the left for the feature names
  const y = (k, i) => 26 + ((i + 0.5) * (canvas.height - 44)) / shown[k];
  return { sizes, shown, x, y };
}

function drawLinks(ctx, frame, x, y) {
  const maxW = Math.max(1e-9, ...frame.weights.flat(2).map(Math.abs));
  const last = frame.weights.length - 1;
  frame.weights.forEach((W, k) => {
    W.forEach((row, i) => row.forEach((w, j) => {
      const [ax, ay, bx, by] = [x(k), y(k, i), x(k + 1), y(k + 1, j)];
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.strokeStyle = w >= 0 ? COLORS.pos : COLORS.neg;
      ctx.globalAlpha = 0.75;
      ctx.lineWidth = Math.max(0.2, (6 * Math.abs(w)) / maxW);
      ctx.stroke();
      const to = k === last ? "output" : `unit ${j + 1}`;
      hits.push({ link: [ax, ay, bx, by], text: `w = ${w === null ? "–" : w.toFixed(3)}, layer ${k + 1}, unit ${i + 1} → ${to}` });
    }));
  });
  ctx.globalAlpha = 1;
}

function drawUnits(ctx, frame, thumbs, { sizes, shown, x, y }) {
  const boxes = [];
  const byLayer = new Map((thumbs ? thumbs.layers : []).map((t) => [t.layer, { ...t, bytes: decode(t.data) }]));
  sizes.forEach((n, k) => {
    const t = byLayer.get(k - 1);
    for (let i = 0; i < shown[k]; i++) {
      if (t && i < t.units) {
        const [bx, by] = [Math.round(x(k) - THUMB / 2), Math.round(y(k, i) - THUMB / 2)];
        const red = paintThumb(ctx, t.bytes, i, thumbs.size, thumbs.mode, bx, by);
        boxes.push([k - 1, i, bx, by, THUMB]);
        hits.push({ box: [bx, by, THUMB], text: unitText(k - 1, i, frame, t, thumbs.mode, red) });
        continue;
      }
      ctx.beginPath();
      ctx.arc(x(k), y(k, i), 6, 0, 2 * Math.PI);
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.strokeStyle = "#444";
      ctx.lineWidth = 1.2;
      ctx.stroke();
      if (k > 0 && k < sizes.length - 1) hits.push({ box: [x(k) - 7, y(k, i) - 7, 14], text: unitText(k - 1, i, frame) });
    }
  });
  return boxes;
}

function drawLabels(ctx, frame, { sizes, shown, x, y }) {
  ctx.textAlign = "center";
  ctx.fillStyle = "#333";
  sizes.forEach((n, k) => {
    const output = frame.config.problem === "regression" ? "output (linear)" : "output σ";
    const label = k === 0 ? "input" : k === sizes.length - 1 ? output : frame.layers[k - 1].activation;
    ctx.fillText(label + (shown[k] < n ? ` (${shown[k]} of ${n})` : ""), x(k), 12);
  });
  ctx.textAlign = "right";
  const labels = state.options.labels.feature;
  frame.config.features.slice(0, shown[0]).forEach((f, i) => ctx.fillText(labels[f] || f, x(0) - 9, y(0, i) + 4));
}

export function drawNetwork() {
  const { frame } = state;
  const canvas = $("network");
  const thumbs = frame.thumbnails;
  const geometry = layout(canvas, frame, thumbs);
  const ctx = setupCanvas(canvas);
  hits = [];
  drawLinks(ctx, frame, geometry.x, geometry.y);
  const boxes = drawUnits(ctx, frame, thumbs, geometry);
  drawLabels(ctx, frame, geometry);
  // For the browser tests: the view drawn, and where each thumbnail is ([layer, unit, x, y, size]).
  canvas.dataset.thumbnails = thumbs ? thumbs.mode : "off";
  canvas.dataset.boxes = JSON.stringify(boxes);
  $("thumb-legend").textContent = legend(thumbs);
  if (pointer) showTip(pointer);
}

function distanceToSegment(px, py, [ax, ay, bx, by]) {
  const [dx, dy] = [bx - ax, by - ay];
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

// The unit under the pointer, else the nearest link within 4 pixels.
function hitAt(px, py) {
  const unit = hits.find((h) => h.box && px >= h.box[0] && px <= h.box[0] + h.box[2] && py >= h.box[1] &&
    py <= h.box[1] + h.box[2]);
  if (unit) return unit;
  let best = null, bestD = 4;
  for (const h of hits) {
    if (!h.link) continue;
    const d = distanceToSegment(px, py, h.link);
    if (d <= bestD) [best, bestD] = [h, d];
  }
  return best;
}

// The tooltip sits in the canvas's wrapper (position: relative), placed in CSS pixels.
function showTip({ px, py, cssX, cssY }) {
  const tip = $("network-tip");
  const hit = hitAt(px, py);
  tip.hidden = !hit;
  if (!hit) return;
  tip.textContent = hit.text;
  tip.style.left = `${cssX + 14}px`;
  tip.style.top = `${cssY + 14}px`;
}

export function wireNetworkTips() {
  const canvas = $("network");
  canvas.addEventListener("mousemove", (e) => {
    const scale = canvas.width / canvas.clientWidth;
    pointer = { px: e.offsetX * scale, py: e.offsetY * scale, cssX: e.offsetX, cssY: e.offsetY };
    showTip(pointer);
  });
  canvas.addEventListener("mouseleave", () => {
    pointer = null;
    $("network-tip").hidden = true;
  });
}
