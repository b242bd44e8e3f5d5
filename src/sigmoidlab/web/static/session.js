// The training session on the server: create it, send configurations and actions, listen to its frames.
import { api } from "./api.js";
import { count, mark, setPlaying, setStatus, showError } from "./dom.js";
import { render } from "./draw.js";
import { state } from "./state.js";
import { configQuery } from "./url.js";

export async function startSession() {
  if (state.source) state.source.close();
  state.session = null;
  const sent = configQuery(state.config);
  const info = await api("POST", "/api/sessions", { ...state.config, speed: state.speed, thumbnails: state.thumbnails });
  state.session = info.id;
  mark("applied", sent);
  const source = (state.source = new EventSource(`/api/sessions/${state.session}/stream`));
  source.addEventListener("data", (e) => {
    state.points = JSON.parse(e.data);
  });
  source.addEventListener("frame", (e) => {
    state.frame = JSON.parse(e.data);
    render();
    mark("frameConfig", configQuery(state.frame.config));
    count("frames");
  });
  source.addEventListener("closed", (e) => {
    source.close();
    state.session = null;
    setPlaying(false);
    setStatus("closed", "bad");
    showError(JSON.parse(e.data).error + " — press Play or change a setting to start again.");
  });
  showError("");
}

// Send state.config: a new session if there is none (or it was closed), else start the session over with it.
export async function applyConfig() {
  const sent = configQuery(state.config);
  try {
    if (!state.session) await startSession();
    else await api("PUT", `/api/sessions/${state.session}`, state.config);
    mark("applied", sent); // the server has this configuration (tests compare it with the URL)
    showError("");
    setPlaying(false);
  } catch (error) {
    if (error.status === 404) return startSession().catch((e) => showError(e.message));
    showError(error.message);
  }
}

export async function control(action, extra = {}) {
  try {
    if (!state.session) await startSession();
    const info = await api("POST", `/api/sessions/${state.session}/control`, { action, ...extra });
    setPlaying(info.status === "running");
    showError("");
  } catch (error) {
    if (error.status === 404) {
      state.session = null;
      return control(action, extra);
    }
    setPlaying(false);
    showError(error.message);
  }
}

// The server closes a session that has had no request and delivered no frame for options.idle_timeout seconds,
// so that tabs nobody looks at do not hold its few slots. While this page is shown, it says it is still here.
export function heartbeat() {
  if (state.session && document.visibilityState === "visible") {
    api("GET", `/api/sessions/${state.session}`)
      .then(() => count("heartbeats"))
      .catch(() => {}); // a closed session says so on its stream
  }
}

export function closeSession() {
  if (state.session) fetch(`/api/sessions/${state.session}`, { method: "DELETE", keepalive: true });
}
