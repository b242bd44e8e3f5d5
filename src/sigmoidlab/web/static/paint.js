// Canvas helpers and colours shared by the drawings (draw.js, network.js, explorer.js).

export const COLORS = { c0: [232, 126, 36], c1: [33, 113, 181], pos: "#2171b5", neg: "#e87e24", sat: "#d62728" };
export const VANISHING_RGB = [214, 39, 40]; // COLORS.sat as numbers: the derivative view's vanishing region

export function setupCanvas(canvas) {
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

export function probabilityColor(p) {
  // Orange (class 0) through white (0.5) to blue (class 1).
  const [a, b] = p < 0.5 ? [COLORS.c0, [255, 255, 255]] : [[255, 255, 255], COLORS.c1];
  const t = p < 0.5 ? p * 2 : (p - 0.5) * 2;
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}
