// DOM helpers shared by the modules: lookup, error box, status line, play button, markers for tests and tools.
import { state } from "./state.js";

export const $ = (id) => document.getElementById(id);

export function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

export function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

export function setPlaying(on) {
  state.playing = on;
  $("play").textContent = on ? "❚❚ Pause" : "▶ Play";
}

// Markers on <body> saying what the page has done (data-ready, data-applied, data-frames, data-heartbeats,
// data-frame-config): browser tests wait on them instead of waiting fixed times.
export function mark(name, value) {
  document.body.dataset[name] = String(value);
}

export function count(name) {
  mark(name, Number(document.body.dataset[name] || 0) + 1);
}

export function fillSelect(select, values, label = (v) => v) {
  select.replaceChildren(...values.map((v) => new Option(label(v), String(v))));
}

export function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toFixed(digits) : value.toExponential(2);
}
