// An entity's history as an SVG chart with a range picker; no library.
//
//   const view = historyView(ctx, entity, { name, format, unit });  // format(state) → "21.5 °C"
//   parent.append(view.element); view.update(entity) on a live change; view.destroy() at the end.
//
// The hub cuts the range into equal buckets (GET …/history?buckets=n: each bucket's last state
// and the min, max and mean of its numbers), so thirty days of minute readings are a few hundred
// rows. Numbers chart as steps (a state holds until the next change) over a min–max band; any
// other state (on/off, text) as a timeline band. The x-axis fits the data with the range as its
// longest: ten minutes of history fill the chart rather than sit as one line at its right edge.
// Pointing, touching or the arrow keys on the focused chart show the time and value in a live
// region drawn as a tooltip.

import { h, clear } from "../dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
export const RANGES = [
  { key: "1h", span: HOUR },
  { key: "6h", span: 6 * HOUR },
  { key: "24h", span: DAY },
  { key: "7d", span: 7 * DAY },
  { key: "30d", span: 30 * DAY },
];
const DEFAULT_RANGE = "24h";
const BUCKETS = 300; // a bucket per two pixels of a desktop chart, fewer than one per pixel on a phone
const MIN_SPAN = 2 * MINUTE; // a fitted axis is never shorter: a reading of seconds ago is not a wall
const HEIGHT = 220;
const BAND_HEIGHT = 110; // a timeline needs no room for a y-axis
const PAD = { top: 22, right: 14, bottom: 26 };
const TICK_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR,
  2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];
let views = 0; // numbers the views, for their ids
const BAND_COLORS = 6; // .history__seg--0 … --5 in entity-detail.css

/** A number, or a string that is one; anything else is null. */
function numberOf(state) {
  if (typeof state === "number") return Number.isFinite(state) ? state : null;
  if (typeof state !== "string" || state.trim() === "") return null;
  const value = Number(state);
  return Number.isFinite(value) ? value : null;
}

async function fetchBuckets(api, entityId, start, end) {
  const query = {
    start: new Date(start).toISOString(), end: new Date(end).toISOString(), buckets: String(BUCKETS),
  };
  return api.get(`/api/entities/${encodeURIComponent(entityId)}/history`, query);
}

/**
 * The last ``span`` ms of an entity's history: ``{start, end, from, previous, rows}`` in ms, where
 * ``from`` is where the x-axis begins (the range's start, or later when the history begins later)
 * and ``previous`` the state that held at ``start`` ({time, state}) or null.
 */
export async function loadRange(api, entityId, span, now = Date.now()) {
  const start = now - span;
  let answer = await fetchBuckets(api, entityId, start, now);
  let from = fitted(answer, start, now);
  if (from - start > span / 4) {
    // The history begins late in the range: ask again over the shorter span, so its buckets are
    // finer and the axis starts closer to the first change.
    answer = await fetchBuckets(api, entityId, from, now);
    from = fitted(answer, from, now);
  }
  const rows = (answer.buckets || []).map((b) => ({
    time: Date.parse(b.changed_at), state: b.state, count: b.count,
    low: b.min ?? null, high: b.max ?? null, mean: b.mean ?? null,
  }));
  const previous = answer.previous ? { time: Date.parse(answer.previous.changed_at), state: answer.previous.state } : null;
  return { start, end: now, from, previous, rows };
}

/** Where the x-axis starts: the range's start when a state held there, else just before the
 * first change (never less than MIN_SPAN before now). */
function fitted(answer, start, now) {
  const first = answer.buckets?.[0];
  if (answer.previous || !first) return start;
  const begins = Math.min(Date.parse(first.start), Date.parse(first.changed_at));
  const pad = (now - begins) / 20;
  return Math.max(start, Math.min(begins - pad, now - MIN_SPAN));
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** Round, evenly spaced values covering ``low``–``high`` (1, 2, 2.5 or 5 times a power of ten). */
function niceTicks(low, high, count = 4) {
  if (low === high) {
    const pad = Math.abs(low) > 1 ? Math.abs(low) * 0.1 : 1;
    low -= pad;
    high += pad;
  }
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const first = Math.floor(low / step) * step;
  const last = Math.ceil(high / step) * step;
  const ticks = [];
  for (let value = first; value <= last + step / 2; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

/** Times on round local minutes, hours or days between ``from`` and ``to``, at most ``most``. */
function timeTicks(from, to, most) {
  const step = TICK_STEPS.find((s) => (to - from) / s <= most) || TICK_STEPS[TICK_STEPS.length - 1];
  const ticks = [];
  if (step < DAY) {
    const offset = new Date(from).getTimezoneOffset() * MINUTE;
    for (let at = Math.ceil((from - offset) / step) * step + offset; at <= to; at += step) ticks.push(at);
  } else {
    const day = new Date(from);
    day.setHours(0, 0, 0, 0);
    if (day.getTime() < from) day.setDate(day.getDate() + 1);
    const days = step / DAY;
    for (; day.getTime() <= to; day.setDate(day.getDate() + days)) ticks.push(day.getTime());
  }
  return { ticks, daily: step >= DAY, hourly: step >= HOUR };
}

/** The index of the last point at or before ``time`` (the state that held then), else 0. */
function holdingAt(points, time) {
  let lo = 0;
  let hi = points.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].time <= time) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * The history view of ``entity``: a range picker, the chart and its tooltip. ``format(state)``
 * words a state as the rest of the UI does (translated label, or number and unit); ``unit`` is
 * printed on the y-axis.
 */
export function historyView(ctx, entity, { name, format, unit = "" }) {
  const { api, t, lang } = ctx;
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  const dayMonth = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" });
  const moment = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  let range = DEFAULT_RANGE;
  let data = null;
  let points = []; // what the tooltip walks: {time, value, state, row} for lines, {time, to, state} for bands
  let cursor = -1;
  let geometry = null; // {width, height, left, right} of the drawn chart, for the pointer
  let loading = 0; // the newest load; an older one that answers late is dropped
  let destroyed = false;

  const buttons = RANGES.map((r) => h("button", {
    type: "button", class: "history__range", "aria-pressed": String(r.key === range),
    title: t(`entities.detail.range.${r.key}_long`), onclick: () => choose(r.key),
  }, t(`entities.detail.range.${r.key}`)));
  const picker = h("div", { class: "history__ranges", role: "group", "aria-label": t("entities.detail.range.label") }, buttons);
  const tip = h("div", { class: "history__tip", role: "status", "aria-live": "polite", hidden: true });
  const noteId = `history-note-${++views}`;
  const plot = h("div", {
    class: "history__plot", tabindex: "0", role: "group", "aria-label": t("entities.detail.chart.name"),
    "aria-describedby": noteId,
    onpointermove: (e) => point(e), onpointerdown: (e) => point(e),
    // A lifted finger "leaves" too: the value it touched stays until the next touch.
    onpointerleave: (e) => { if (e.pointerType === "mouse") hideTip(); },
    onkeydown: (e) => key(e), onblur: () => hideTip(),
  });
  const note = h("p", { class: "history__note muted", id: noteId });
  const legend = h("ul", { class: "history__legend", hidden: true });
  const element = h("section", { class: "history", "aria-label": t("entities.detail.history") },
    h("div", { class: "history__head" }, h("h3", {}, t("entities.detail.history")), picker),
    h("div", { class: "history__frame" }, plot, tip), legend, note);
  // Redrawn at the new width (text stays its size), only when the width changed: a redraw that
  // changes the height must not start another.
  const observer = new ResizeObserver(() => {
    if (data && geometry && Math.round(plot.clientWidth) !== geometry.width) draw();
  });
  observer.observe(plot);

  const rangeOf = (key) => RANGES.find((r) => r.key === key);
  const spanWords = () => t(`entities.detail.range.${range}_long`);

  async function choose(key) {
    range = key;
    for (const [i, button] of buttons.entries()) button.setAttribute("aria-pressed", String(RANGES[i].key === key));
    await load();
  }

  async function load() {
    const mine = ++loading;
    plot.setAttribute("aria-busy", "true");
    if (!data) clear(plot).append(h("p", { class: "muted history__loading" }, t("entities.detail.loading")));
    let answer;
    try {
      answer = await loadRange(api, entity.id, rangeOf(range).span);
    } catch (err) {
      if (mine !== loading || destroyed) return;
      data = null;
      plot.removeAttribute("aria-busy");
      const { errorText } = await import("../errors.js");
      clear(plot).append(h("p", { role: "alert", class: "error" }, errorText(err)));
      return;
    }
    if (mine !== loading || destroyed) return;
    data = answer;
    plot.removeAttribute("aria-busy");
    draw();
  }

  /** Numbers chart as a line when every known state is one; anything else is a timeline. */
  function kindOf() {
    const states = [...data.rows.map((r) => r.state), data.previous?.state].filter((s) => s !== null && s !== undefined);
    if (!states.length) return "empty";
    return states.every((s) => numberOf(s) !== null) ? "line" : "band";
  }

  function draw() {
    hideTip();
    const width = Math.max(280, Math.round(plot.clientWidth || 600));
    const kind = kindOf();
    const from = data.from;
    const to = data.end;
    const height = kind === "line" ? HEIGHT : BAND_HEIGHT;
    const frame = svg("svg", { class: "history__svg", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
    let label;
    if (kind === "empty") {
      points = [];
      geometry = null;
      label = t("entities.detail.chart.empty", { name, range: spanWords() });
      frame.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "history__empty" },
        t("entities.detail.chart.no_data")));
    } else if (kind === "line") {
      label = drawLine(frame, width, from, to);
    } else {
      label = drawBand(frame, width, from, to);
    }
    frame.setAttribute("aria-label", label);
    frame.prepend(svg("title", {}, label));
    clear(plot).append(frame);
    note.textContent = kind === "empty" ? "" : t("entities.detail.chart.hint");
  }

  function xAxis(frame, left, right, from, to) {
    const height = Number(frame.getAttribute("height"));
    geometry = { width: Number(frame.getAttribute("width")), height, left, right };
    const x = (time) => left + ((time - from) / Math.max(1, to - from)) * (right - left);
    const axes = svg("g", { class: "history__axes", "aria-hidden": "true" });
    axes.append(svg("line", { x1: left, y1: height - PAD.bottom, x2: right, y2: height - PAD.bottom }));
    const { ticks, daily } = timeTicks(from, to, (right - left) < 360 ? 3 : 6);
    for (const time of ticks) {
      const at = x(time).toFixed(1);
      axes.append(svg("line", { x1: at, y1: PAD.top, x2: at, y2: height - PAD.bottom, class: "history__grid" }),
        svg("text", { x: at, y: height - 8, "text-anchor": "middle" }, (daily ? dayMonth : clock).format(time)));
    }
    frame.append(axes);
    return x;
  }

  function drawLine(frame, width, from, to) {
    const { rows, previous } = data;
    points = [];
    if (previous && numberOf(previous.state) !== null) {
      points.push({ time: from, since: previous.time, value: numberOf(previous.state), state: previous.state, row: null });
    }
    for (const row of rows) {
      const value = numberOf(row.state);
      if (value !== null) points.push({ time: Math.max(from, row.time), value, state: row.state, row });
    }
    let low = Infinity;
    let high = -Infinity;
    for (const p of points) {
      low = Math.min(low, p.value, p.row?.low ?? Infinity);
      high = Math.max(high, p.value, p.row?.high ?? -Infinity);
    }
    const ticks = niceTicks(low, high);
    const bottomValue = ticks[0];
    const topValue = ticks[ticks.length - 1];
    const labels = ticks.map((v) => numbers.format(v));
    const left = Math.max(34, 10 + 7 * Math.max(...labels.map((l) => l.length), unit.length));
    const right = width - PAD.right;
    const top = PAD.top;
    const bottom = HEIGHT - PAD.bottom;
    const y = (value) => bottom - ((value - bottomValue) / (topValue - bottomValue || 1)) * (bottom - top);
    const x = xAxis(frame, left, right, from, to);
    const axes = frame.lastChild;
    ticks.forEach((value, i) => {
      const at = y(value).toFixed(1);
      axes.append(svg("line", { x1: left, y1: at, x2: right, y2: at, class: "history__grid" }),
        svg("text", { x: left - 6, y: Number(at) + 4, "text-anchor": "end" }, labels[i]));
    });
    if (unit) axes.append(svg("text", { x: left - 6, y: 12, "text-anchor": "end", class: "history__unit" }, unit));

    // The min–max band of buckets that held more than one reading, then the steps through each
    // bucket's last value, carried on to now.
    let band = "";
    let line = "";
    for (const [i, p] of points.entries()) {
      const px = x(p.time);
      const next = i + 1 < points.length ? x(points[i + 1].time) : x(to);
      if (p.row && p.row.count > 1 && p.row.low !== null && p.row.high > p.row.low) {
        const w = Math.max(1, next - px);
        band += `M${px.toFixed(1)},${y(p.row.high).toFixed(1)}h${w.toFixed(1)}V${y(p.row.low).toFixed(1)}h${(-w).toFixed(1)}Z`;
      }
      line += i === 0 ? `M${px.toFixed(1)},${y(p.value).toFixed(1)}` : `H${px.toFixed(1)}V${y(p.value).toFixed(1)}`;
    }
    line += `H${x(to).toFixed(1)}`;
    if (band) frame.append(svg("path", { d: band, class: "history__band" }));
    frame.append(svg("path", { d: line, class: "history__line", fill: "none" }));
    const last = points[points.length - 1];
    frame.append(svg("circle", { cx: x(last.time).toFixed(1), cy: y(last.value).toFixed(1), r: 3, class: "history__dot" }));
    frame.append(svg("g", { class: "history__cursor", "aria-hidden": "true" }));
    for (const p of points) {
      p.x = x(p.time);
      p.y = y(p.value);
    }
    const values = points.map((p) => p.value);
    return t("entities.detail.chart.label", {
      name, range: spanWords(),
      min: format(Math.min(low, ...values)), max: format(Math.max(high, ...values)), last: format(last.state),
    });
  }

  function drawBand(frame, width, from, to) {
    const { rows, previous } = data;
    const changes = [];
    if (previous) changes.push({ time: from, since: previous.time, state: previous.state });
    for (const row of rows) changes.push({ time: Math.max(from, row.time), state: row.state });
    points = changes.map((c, i) => ({ ...c, to: i + 1 < changes.length ? changes[i + 1].time : to }));
    const left = 8;
    const right = width - PAD.right;
    const x = xAxis(frame, left, right, from, to);
    const colors = new Map();
    const colorOf = (state) => {
      const key = String(state);
      if (state === "off" || state === false || state === null) return "off";
      if (!colors.has(key)) colors.set(key, colors.size % BAND_COLORS);
      return String(colors.get(key));
    };
    const top = PAD.top + 4;
    const height = BAND_HEIGHT - PAD.top - PAD.bottom - 8;
    const band = svg("g", { class: "history__timeline" });
    for (const p of points) {
      const x0 = x(p.time);
      const w = Math.max(1, x(p.to) - x0);
      p.x = x0 + w / 2;
      p.y = top + height / 2;
      band.append(svg("rect", { x: x0.toFixed(1), y: top, width: w.toFixed(1), height, class: `history__seg history__seg--${colorOf(p.state)}` }));
      const words = format(p.state);
      if (w > words.length * 7 + 8) {
        band.append(svg("text", { x: (x0 + w / 2).toFixed(1), y: top + height / 2 + 4, "text-anchor": "middle", class: "history__seg-label" }, words));
      }
    }
    frame.append(band, svg("g", { class: "history__cursor", "aria-hidden": "true" }));
    const seen = new Map(points.map((p) => [String(p.state), p.state]));
    clear(legend).append(...[...seen.values()].map((state) => h("li", {},
      h("span", { class: `history__swatch history__seg--${colorOf(state)}`, "aria-hidden": "true" }), format(state))));
    legend.hidden = seen.size < 2;
    return t("entities.detail.chart.band_label", {
      name, range: spanWords(), count: points.length, last: format(points[points.length - 1].state),
    });
  }

  // ---- the tooltip: pointer, touch and keyboard --------------------------------------------------

  function point(event) {
    const frame = plot.querySelector("svg");
    if (!frame || !points.length || !geometry) return;
    const box = frame.getBoundingClientRect();
    const at = (event.clientX - box.left) * (box.width ? geometry.width / box.width : 1);
    const time = data.from + ((at - geometry.left) / Math.max(1, geometry.right - geometry.left)) * (data.end - data.from);
    show(holdingAt(points, time));
  }

  function key(event) {
    if (!points.length) return;
    const last = points.length - 1;
    const moves = { ArrowLeft: cursor - 1, ArrowRight: cursor + 1, Home: 0, End: last };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = cursor < 0 ? last : moves[event.key];
    show(Math.max(0, Math.min(last, next)));
  }

  function show(index) {
    cursor = index;
    const p = points[index];
    const frame = plot.querySelector("svg");
    const mark = frame?.querySelector(".history__cursor");
    if (!p || !mark) return;
    const time = moment.format(p.since ?? p.time); // when the state was set, before the axis if need be
    let text;
    if (p.to !== undefined) {
      text = t("entities.detail.chart.span", { from: time, to: moment.format(p.to), value: format(p.state) });
    } else if (p.row && p.row.count > 1 && p.row.low !== null && p.row.high > p.row.low) {
      text = t("entities.detail.chart.point_range", { time, value: format(p.state), min: format(p.row.low), max: format(p.row.high) });
    } else {
      text = t("entities.detail.chart.point", { time, value: format(p.state) });
    }
    tip.textContent = text;
    tip.hidden = false;
    clear(mark).append(svg("line", { x1: p.x, y1: PAD.top, x2: p.x, y2: geometry.height - PAD.bottom }),
      svg("circle", { cx: p.x, cy: p.y, r: 4 }));
    const box = frame.getBoundingClientRect();
    const scale = box.width / frame.viewBox.baseVal.width || 1;
    const px = p.x * scale;
    tip.style.left = `${Math.max(0, Math.min(box.width - tip.offsetWidth, px - tip.offsetWidth / 2))}px`;
  }

  function hideTip() {
    cursor = -1;
    tip.hidden = true;
    const mark = plot.querySelector(".history__cursor");
    if (mark) clear(mark);
  }

  /** A live change of the entity: carried on to now, appended when it is a new state. */
  function update(next) {
    entity = next;
    if (!data) return;
    const now = Date.now();
    const time = Math.min(now, Date.parse(next.last_changed) || now);
    const lastRow = data.rows[data.rows.length - 1];
    if (!lastRow || time > lastRow.time || next.state !== lastRow.state) {
      data.rows.push({ time, state: next.state, count: 1, low: null, high: null, mean: null });
    }
    data.end = Math.max(data.end, now);
    draw();
  }

  function destroy() {
    destroyed = true;
    observer.disconnect();
  }

  load();
  return { element, update, destroy, reload: load, get range() { return range; } };
}
