// The configuration panel, built from the server's options: names, labels, bounds and presets all come from there.
import { $, fillSelect } from "./dom.js";
import { state } from "./state.js";

// The scalar configuration keys that have a control of the same id (the hidden layers have their own list).
const scalarKeys = () => Object.keys(state.options.defaults).filter((key) => key !== "upload" && $(key));

export function buildControls(applyPreset) {
  const o = state.options;
  const label = (kind) => (v) => o.labels[kind][v] || v;
  fillSelect($("problem"), Object.keys(o.problems));
  fillSelect($("regularization"), o.regularizations, label("regularization"));
  fillSelect($("regularization_rate"), o.regularization_rates);
  $("feature-list").append(
    ...o.features.map((name) => {
      const box = Object.assign(document.createElement("input"), { type: "checkbox", className: "feature" });
      box.dataset.feature = name;
      const item = Object.assign(document.createElement("label"), { className: "check" });
      item.append(box, " ", label("feature")(name));
      return item;
    }),
  );
  fillSelect($("init"), o.inits, (v) => v.replace("_", " "));
  fillSelect($("optimizer"), o.optimizers, label("optimizer"));
  fillSelect($("loss"), o.losses, label("loss"));
  fillSelect($("lr"), o.learning_rates);
  fillSelect($("threshold"), o.thresholds);
  fillSelect($("thumbnails"), o.thumbnails, label("thumbnails"));
  for (const key of ["noise", "n_samples", "test_fraction", "batch_size", "seed", "speed"]) {
    Object.assign($(key), { min: o[key][0], max: o[key][1] });
  }
  $("presets").append(
    ...o.presets.map((preset) => {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: preset.label });
      button.dataset.preset = preset.name;
      button.addEventListener("click", () => applyPreset(preset.config));
      return button;
    }),
  );
}

function layerItem(units, i, onChange) {
  const item = document.createElement("li");
  const unitsInput = Object.assign(document.createElement("input"), {
    type: "number", min: 1, max: state.options.max_units, value: units, className: "units",
  });
  unitsInput.setAttribute("aria-label", `units in hidden layer ${i + 1}`);
  unitsInput.addEventListener("change", () => {
    state.config.hidden[i] = Number(unitsInput.value);
    onChange();
  });
  const act = document.createElement("select");
  act.className = "activation";
  act.setAttribute("aria-label", `activation of hidden layer ${i + 1}`);
  fillSelect(act, state.options.activations, (v) => state.options.labels.activation[v] || v);
  act.value = state.config.activation[i];
  act.addEventListener("change", () => {
    state.config.activation[i] = act.value;
    onChange();
  });
  item.append(unitsInput, " units, ", act);
  return item;
}

function renderLayers(onChange) {
  const { hidden } = state.config;
  $("layers").replaceChildren(...hidden.map((units, i) => layerItem(units, i, onChange)));
  $("n-layers").textContent = String(hidden.length);
  $("add-layer").disabled = hidden.length >= state.options.max_hidden_layers;
  $("remove-layer").disabled = hidden.length === 0;
}

// Show state.config (and the speed and explorer position) in the controls.
export function showConfig(onChange) {
  const { config } = state;
  const uploaded = config.dataset === "upload";
  const datasets = $("dataset");
  if (datasets.dataset.problem !== config.problem) {
    // The data sets of this problem (classification or regression) only.
    fillSelect(datasets, state.options.problems[config.problem].filter((d) => d !== "upload"));
    datasets.dataset.problem = config.problem;
  }
  if (uploaded && ![...$("dataset").options].some((o) => o.value === "upload")) {
    $("dataset").append(new Option(`upload: ${state.upload.name}`, "upload"));
  }
  if (!state.options.learning_rates.includes(config.lr)) $("lr").append(new Option(String(config.lr), String(config.lr)));
  const rate = config.regularization_rate;
  if (!state.options.regularization_rates.includes(rate)) $("regularization_rate").append(new Option(String(rate), String(rate)));
  for (const box of document.querySelectorAll("#feature-list input.feature")) {
    box.checked = config.features.includes(box.dataset.feature);
  }
  const regression = config.problem === "regression";
  $("loss").disabled = $("csv").disabled = regression; // regression: squared error on the raw output, no CSV
  $("regularization_rate").disabled = config.regularization === "none";
  $("show_test").checked = state.view.show_test;
  $("discretize").checked = state.view.discretize;
  for (const key of scalarKeys()) {
    if (typeof config[key] === "boolean") $(key).checked = config[key];
    else $(key).value = String(config[key]);
  }
  $("noise").disabled = $("n_samples").disabled = uploaded;
  $("noise-value").textContent = config.noise.toFixed(2);
  $("test_fraction-value").textContent = config.test_fraction.toFixed(2);
  $("speed").value = String(state.speed);
  $("thumbnails").value = state.thumbnails;
  $("x").value = String(state.explorerX);
  renderLayers(onChange);
}

// Read the controls into state.config.
export function readControls() {
  const { config } = state;
  const defaults = state.options.defaults;
  for (const key of scalarKeys()) {
    const like = defaults[key];
    if (typeof like === "boolean") config[key] = $(key).checked;
    else if (typeof like !== "number") config[key] = $(key).value;
    else if (state.options.integers.includes(key)) config[key] = Math.round(Number($(key).value));
    else config[key] = Number($(key).value);
  }
  const { problems } = state.options;
  if (!problems[config.problem].includes(config.dataset)) config.dataset = problems[config.problem][0];
  const checked = [...document.querySelectorAll("#feature-list input.feature:checked")].map((b) => b.dataset.feature);
  if (checked.length) config.features = checked; // the last feature cannot be unticked: a model needs an input
  config.upload = config.dataset === "upload" ? state.upload.token : null;
}
