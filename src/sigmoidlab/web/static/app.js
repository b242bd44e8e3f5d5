// sigmoidlab playground: builds the controls from /api/options, keeps the configuration in the URL, drives one
// training session on the server and draws the frames it streams (Server-Sent Events). ES modules, no build step:
// state.js (the one state object), dom.js, api.js, url.js, controls.js, session.js, paint.js, draw.js, network.js,
// explorer.js.
import { api } from "./api.js";
import { $, mark, setStatus, showError } from "./dom.js";
import { buildControls, readControls, showConfig } from "./controls.js";
import { render } from "./draw.js";
import { wireNetworkTips } from "./network.js";
import { updateExplorer } from "./explorer.js";
import { applyConfig, closeSession, control, heartbeat, startSession } from "./session.js";
import { state } from "./state.js";
import { configFromURL, writeURL } from "./url.js";

function changed() {
  readControls();
  showConfig(changed);
  writeURL();
  clearTimeout(state.changeTimer);
  state.changeTimer = setTimeout(applyConfig, 200); // one request per burst of slider movement
}

// A preset (from the server's options) sets some keys and keeps the others.
function applyPreset(preset) {
  clearTimeout(state.changeTimer);
  state.config = { ...state.config, ...structuredClone(preset), upload: null };
  showConfig(changed);
  writeURL();
  applyConfig();
}

async function uploadCSV(file) {
  const form = new FormData();
  form.append("file", file);
  if ($("target").value.trim()) form.append("target", $("target").value.trim());
  try {
    const result = await api("POST", "/api/uploads", form);
    state.upload = { token: result.upload, name: file.name };
    [...$("dataset").options].filter((o) => o.value === "upload").forEach((o) => o.remove());
    $("dataset").append(new Option(`upload: ${file.name} (${result.rows} rows)`, "upload"));
    $("dataset").value = "upload";
    changed();
  } catch (error) {
    showError(error.message);
  }
}

function wireLayers() {
  $("add-layer").addEventListener("click", () => {
    const { hidden, activation } = state.config;
    hidden.push(4);
    activation.push(activation[activation.length - 1] || state.options.activations[0]);
    changed();
  });
  $("remove-layer").addEventListener("click", () => {
    state.config.hidden.pop();
    state.config.activation.pop();
    changed();
  });
}

function wire() {
  for (const id of ["dataset", "noise", "n_samples", "test_fraction", "batchnorm", "init", "optimizer", "lr",
    "batch_size", "loss", "seed", "problem", "regularization", "regularization_rate"]) {
    $(id).addEventListener(id === "noise" || id === "test_fraction" ? "input" : "change", changed);
  }
  wireLayers();
  $("feature-list").addEventListener("change", changed);
  for (const key of Object.keys(state.view)) {
    $(key).addEventListener("change", () => {
      state.view[key] = $(key).checked;
      writeURL();
      render(); // drawing only: the session is not touched
    });
  }
  $("play").addEventListener("click", () => control(state.playing ? "pause" : "play"));
  $("step").addEventListener("click", () => control("step"));
  $("reset").addEventListener("click", () => control("reset"));
  $("speed").addEventListener("change", () => {
    state.speed = Number($("speed").value);
    writeURL();
    if (state.session) control("speed", { speed: state.speed });
  });
  $("thumbnails").addEventListener("change", () => {
    state.thumbnails = $("thumbnails").value;
    writeURL();
    if (state.session) control("thumbnails", { thumbnails: state.thumbnails });
  });
  wireNetworkTips();
  $("x").addEventListener("input", () => {
    state.explorerX = Number($("x").value);
    writeURL();
    clearTimeout(state.explorerTimer);
    state.explorerTimer = setTimeout(updateExplorer, 30);
  });
  $("threshold").addEventListener("change", () => {
    changed();
    updateExplorer();
  });
  $("csv").addEventListener("change", () => $("csv").files[0] && uploadCSV($("csv").files[0]));
  window.addEventListener("pagehide", closeSession);
}

async function main() {
  try {
    state.options = await api("GET", "/api/options");
  } catch (error) {
    showError(`cannot reach the server: ${error.message}`);
    return;
  }
  state.speed = state.options.default_speed;
  state.thumbnails = state.options.default_thumbnails;
  $("report-link").hidden = !state.options.report; // the server was started with --report: link its page
  setInterval(heartbeat, (Math.max(1, state.options.idle_timeout) * 1000) / 3);
  document.addEventListener("visibilitychange", heartbeat);
  buildControls(applyPreset);
  state.config = configFromURL();
  showConfig(changed);
  writeURL();
  wire();
  updateExplorer();
  try {
    await startSession();
  } catch (error) {
    setStatus("error", "bad");
    showError(error.message);
  }
  mark("ready", 1);
}

main();
