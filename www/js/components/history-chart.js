// A small SVG line chart of an entity's state over the last hours; no library.
//
//   const points = await loadHistory(api, entityId);          // [{ time: ms, value: number }]
//   const svg = historyChart(points, { name, unit, t, lang }); // <svg role="img" aria-label=…>
//
// A state is charted when it reads as a number; "on"/"off" and true/false chart as 1/0, so a
// switch's day shows as steps. States hold until the next change, so the line is drawn as steps
// and carried on to the chart's end.

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 26, left: 52 };
const HOUR = 3_600_000;
const MAX_POINTS = 10_000;

/** The number a state charts as, or null when it is not a number. */
export function chartValue(state) {
  if (typeof state === "number") return Number.isFinite(state) ? state : null;
  if (typeof state === "boolean") return state ? 1 : 0;
  if (typeof state !== "string" || state.trim() === "") return null;
  if (state === "on") return 1;
  if (state === "off") return 0;
  const value = Number(state);
  return Number.isFinite(value) ? value : null;
}

/** The entity's history from `hours` ago until now, as points, oldest first. */
export async function loadHistory(api, entityId, { hours = 24, now = Date.now() } = {}) {
  const start = new Date(now - hours * HOUR).toISOString();
  const end = new Date(now).toISOString();
  const query = new URLSearchParams({ start, end, limit: String(MAX_POINTS) });
  const answer = await api.get(`/api/entities/${encodeURIComponent(entityId)}/history?${query}`);
  const points = [];
  for (const row of answer.history || []) {
    const value = chartValue(row.state);
    const time = Date.parse(row.changed_at);
    if (value !== null && Number.isFinite(time)) points.push({ time, value });
  }
  return { points, start: Date.parse(start), end: Date.parse(end), truncated: !!answer.truncated };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** At most two points (the lowest and highest) per horizontal pixel, so long days stay cheap. */
function thin(points, x) {
  if (points.length <= WIDTH * 2) return points;
  const kept = [];
  let column = null;
  let low = null;
  let high = null;
  const flush = () => {
    if (low === null) return;
    if (low === high) kept.push(low);
    else kept.push(...(low.time <= high.time ? [low, high] : [high, low]));
  };
  for (const point of points) {
    const at = Math.round(x(point.time));
    if (at !== column) {
      flush();
      column = at;
      low = high = point;
    } else {
      if (point.value < low.value) low = point;
      if (point.value > high.value) high = point;
    }
  }
  flush();
  return kept;
}

/** Whole local hours between `start` and `end`, about four of them, on round hours of the day. */
function ticks(start, end, hours) {
  const every = Math.max(1, Math.round(hours / 4));
  const time = new Date(start);
  time.setMinutes(0, 0, 0);
  const out = [];
  for (time.setHours(time.getHours() + 1); time.getTime() < end; time.setHours(time.getHours() + 1)) {
    if (time.getHours() % every === 0) out.push(time.getTime());
  }
  return out;
}

/**
 * An `<svg role="img">` line chart of `points` between `start` and `end` (ms); `t` and `lang`
 * word and format its labels, `name` and `unit` describe what is charted.
 */
export function historyChart({ points, start, end }, { name, unit = "", t, lang, hours = 24 }) {
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  const shown = (value) => numbers.format(value) + (unit ? ` ${unit}` : "");

  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    class: "history-chart",
    preserveAspectRatio: "none",
  });
  let label;
  if (!points.length) {
    label = t("entities.chart.empty", { name, hours });
  } else {
    const values = points.map((p) => p.value);
    label = t("entities.chart.label", {
      name,
      hours,
      count: points.length,
      min: shown(Math.min(...values)),
      max: shown(Math.max(...values)),
      last: shown(values[values.length - 1]),
    });
  }
  svg.setAttribute("aria-label", label);
  svg.append(el("title", {}, label));

  const left = PAD.left;
  const right = WIDTH - PAD.right;
  const top = PAD.top;
  const bottom = HEIGHT - PAD.bottom;
  const frame = el("g", { class: "history-chart__axes", "aria-hidden": "true" });
  svg.append(frame);
  const x = (time) => left + ((time - start) / Math.max(1, end - start)) * (right - left);
  frame.append(el("line", { x1: left, y1: bottom, x2: right, y2: bottom }));
  for (const time of ticks(start, end, hours)) {
    const at = x(time).toFixed(1);
    frame.append(
      el("line", { x1: at, y1: top, x2: at, y2: bottom, class: "history-chart__grid" }),
      el("text", { x: at, y: HEIGHT - 8, "text-anchor": "middle" }, clock.format(time)),
    );
  }
  if (!points.length) {
    frame.append(
      el(
        "text",
        { x: (left + right) / 2, y: (top + bottom) / 2, "text-anchor": "middle" },
        t("entities.chart.no_data"),
      ),
    );
    return svg;
  }

  let low = Infinity;
  let high = -Infinity;
  for (const { value } of points) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const y = (value) => bottom - ((value - low) / (high - low)) * (bottom - top);
  for (const value of [low, (low + high) / 2, high]) {
    const at = y(value).toFixed(1);
    frame.append(
      el("line", { x1: left, y1: at, x2: right, y2: at, class: "history-chart__grid" }),
      el("text", { x: left - 6, y: Number(at) + 4, "text-anchor": "end" }, numbers.format(value)),
    );
  }

  const drawn = thin(points, x);
  let path = "";
  let previous = null;
  for (const point of drawn) {
    const px = Math.max(left, x(point.time)).toFixed(1);
    const py = y(point.value).toFixed(1);
    path += previous === null ? `M${px},${py}` : `H${px}V${py}`;
    previous = point;
  }
  path += `H${right}`;
  svg.append(el("path", { d: path, class: "history-chart__line", fill: "none" }));
  const last = drawn[drawn.length - 1];
  svg.append(
    el("circle", {
      cx: Math.max(left, x(last.time)).toFixed(1),
      cy: y(last.value).toFixed(1),
      r: 3,
      class: "history-chart__dot",
    }),
  );
  return svg;
}
