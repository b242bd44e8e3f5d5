// The configuration in the address bar: a link reproduces it. Keys and their types come from the server's defaults.
import { showError } from "./dom.js";
import { state } from "./state.js";

// The configuration as query parameters (without the upload token, which a link cannot carry).
export function configQuery(config) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(config)) {
    if (key === "upload") continue;
    if (Array.isArray(value)) q.set(key, value.join(","));
    else if (typeof value === "boolean") q.set(key, value ? "1" : "0");
    else q.set(key, String(value));
  }
  return q.toString();
}

export function writeURL() {
  const q = new URLSearchParams(configQuery(state.config));
  q.set("speed", String(state.speed));
  q.set("thumbnails", state.thumbnails);
  q.set("x", String(state.explorerX));
  for (const [key, on] of Object.entries(state.view)) q.set(key, on ? "1" : "0");
  history.replaceState(null, "", "?" + q.toString());
}

function parse(text, like) {
  if (Array.isArray(like)) {
    const items = text === "" ? [] : text.split(",");
    return typeof like[0] === "number" ? items.map(Number) : items;
  }
  if (typeof like === "boolean") return text === "1";
  return typeof like === "number" ? Number(text) : text;
}

export function configFromURL() {
  const { defaults } = state.options;
  const q = new URLSearchParams(location.search);
  const c = structuredClone(defaults);
  for (const key of Object.keys(defaults)) if (key !== "upload" && q.has(key)) c[key] = parse(q.get(key), defaults[key]);
  if (c.activation.length !== c.hidden.length) c.activation = c.hidden.map((_, i) => c.activation[i] || state.options.activations[0]);
  if (q.has("speed")) state.speed = Number(q.get("speed"));
  if (q.has("thumbnails")) state.thumbnails = q.get("thumbnails"); // the server validates it, as the speed
  if (q.has("x")) state.explorerX = Number(q.get("x"));
  for (const key of Object.keys(state.view)) if (q.has(key)) state.view[key] = q.get(key) === "1";
  if (c.dataset === "upload") {
    // An upload lives on the server for a while only; a shared link cannot carry the file itself.
    c.dataset = defaults.dataset;
    showError("This link used an uploaded CSV, which is not part of the link: upload the file again.");
  }
  delete c.upload;
  return c;
}
