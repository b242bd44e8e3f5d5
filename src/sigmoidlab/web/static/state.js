// The page's one mutable state: every module reads and writes these fields, nothing else is global.
export const state = {
  options: null, // names, labels, bounds, defaults and presets from GET /api/options (the server is the source)
  config: null, // the current configuration: the JSON API's keys, also kept in the URL
  speed: 6,
  thumbnails: null, // what the diagram's units show (options.thumbnails): a session setting, like speed
  explorerX: 0,
  view: { show_test: true, discretize: false }, // drawing options: in the URL, not sent to the server
  session: null, // the session id
  source: null, // its EventSource
  points: null, // train/test points and the heatmap extent ("data" events)
  frame: null, // the latest frame ("frame" events)
  upload: null, // {token, name} of an uploaded CSV
  playing: false,
  changeTimer: null, // debounces configuration changes
  explorerTimer: null, // debounces the explorer's slider
};
