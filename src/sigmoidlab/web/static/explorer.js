// The sigmoid explorer: σ, σ′, σ″ at x from the server (the package's own functions) and the vanishing region.
import { api } from "./api.js";
import { $, showError } from "./dom.js";
import { COLORS, setupCanvas } from "./paint.js";
import { state } from "./state.js";

export async function updateExplorer() {
  $("x-value").textContent = state.explorerX.toFixed(1);
  try {
    const v = await api("GET", `/api/sigmoid?x=${state.explorerX}&threshold=${state.config.threshold}`);
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
