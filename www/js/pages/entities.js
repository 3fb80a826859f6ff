// The entities page: every entity the person may see, live from `subscribe_entities`.
//
// The snapshot builds one row per entity; later diffs change the model at once and the DOM in
// the next animation frame, touching only the cells of the fields that changed. Rows are grouped
// by device, sorted by name, and filtered by hiding rows, never by rebuilding them.

import { h, clear, dialog } from "../dom.js";
import { chartValue, historyChart, loadHistory } from "../components/history-chart.js";

export const route = "entities";
export const navKey = "entities.nav";

const OTHER = "other";
const BULK = 24; // more new rows than this in one group: append and sort once, not one by one
const FRAME_BUDGET = 10; // ms of DOM work per animation frame before the rest waits for the next
const SWITCH_ACTIONS = ["toggle", "turn_on", "turn_off"];
const FILTER_KEYS = new Set(["n", "d", "t", "v"]);

export async function render(root, ctx) {
  const { api, ws, t, lang, toast } = ctx;
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 3 });
  const collator = new Intl.Collator(lang, { numeric: true, sensitivity: "base" });
  const timeOnly = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });

  const records = new Map(); // id → {id, s, a, n, …, row, cells, group}
  const groups = new Map(); // device id or OTHER → {key, section, count, body, rows: [rec]}
  const types = new Map(); // "domain/type" → its declared actions, or null while they load
  const dirty = new Map(); // id → "new" or a Set of changed short keys
  const gone = []; // records whose rows leave in the next frame
  const filter = { text: "", domain: "", hidden: false };
  let frame = 0;
  let subscription = null;
  let snapshotOf = null; // the subscription id whose snapshot we hold (a reconnect makes a new one)
  let refilter = false;
  let recount = false; // the counts and the domain list wait for the next complete frame
  let closed = false;
  let chart = null; // {rec, dialog, box, data}
  let today = new Date().toDateString(); // refreshed each frame: times of today show without a date

  // ---- the page's frame -------------------------------------------------------------------------

  const search = h("input", {
    type: "search", class: "entities__search", placeholder: t("entities.filter_placeholder"),
    "aria-label": t("entities.filter"), autocomplete: "off",
  });
  const domainSelect = h("select", { class: "entities__domain", "aria-label": t("entities.domain") },
    h("option", { value: "" }, t("entities.all_domains")));
  const hiddenBox = h("input", { type: "checkbox", class: "entities__hidden-box" });
  const status = h("p", { class: "entities__status muted", role: "status" }, t("entities.loading"));
  const list = h("div", { class: "entities__groups" });
  const page = h("div", { class: "entities" },
      h("div", { class: "entities__head" },
        h("h1", {}, t("entities.title")),
        h("div", { class: "entities__filters" }, search, domainSelect,
          h("label", { class: "entities__hidden" }, hiddenBox, " ", t("entities.show_hidden")))),
      status,
      list);
  root.append(page);

  search.addEventListener("input", () => {
    filter.text = search.value.trim().toLowerCase();
    refilter = true;
    schedule();
  });
  domainSelect.addEventListener("change", () => {
    filter.domain = domainSelect.value;
    refilter = true;
    schedule();
  });
  hiddenBox.addEventListener("change", () => {
    filter.hidden = hiddenBox.checked;
    refilter = true;
    schedule();
  });
  list.addEventListener("click", onClick);
  list.addEventListener("change", onChange);
  list.addEventListener("input", onInput);
  list.addEventListener("submit", onSubmit);

  // ---- the stream: the model changes now, the DOM in the next frame ------------------------------

  function onMessage(msg) {
    if (closed) return;
    const body = msg && msg.event;
    if (!body) return;
    if (msg.id !== snapshotOf) {
      // The first message of a (re)subscription is the snapshot: it replaces what we hold.
      snapshotOf = msg.id;
      const fresh = body.a || {};
      for (const id of [...records.keys()]) if (!(id in fresh)) remove(id);
      refilter = true; // an empty snapshot still replaces "Loading…"
    }
    if (body.r) for (const id of body.r) remove(Number(id));
    if (body.a) for (const [id, fields] of Object.entries(body.a)) add(Number(id), fields);
    if (body.c) for (const [id, change] of Object.entries(body.c)) update(Number(id), change["+"] || {});
    schedule();
  }

  function add(id, fields) {
    if (records.has(id)) {
      update(id, fields);
      return;
    }
    const rec = { id, ...fields, row: null, cells: null, group: null };
    records.set(id, rec);
    dirty.set(id, "new");
    wantType(rec);
  }

  function update(id, fields) {
    const rec = records.get(id);
    if (!rec) return;
    let keys = dirty.get(id);
    for (const [key, value] of Object.entries(fields)) {
      if (rec[key] === value && typeof value !== "object") continue;
      rec[key] = value;
      if (keys !== "new") {
        if (!keys) dirty.set(id, (keys = new Set()));
        keys.add(key);
      }
    }
    if ("d" in fields || "t" in fields) wantType(rec);
  }

  function remove(id) {
    const rec = records.get(id);
    if (!rec) return;
    records.delete(id);
    dirty.delete(id);
    if (rec.row) gone.push(rec);
  }

  function schedule() {
    if (!frame && !closed) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (closed) return;
    today = new Date().toDateString();
    if (gone.length || refilter) recount = true;
    for (const rec of gone.splice(0)) unplace(rec);
    const fresh = [];
    // A frame's work is bounded: a thousand new rows arrive over a few frames, each one short,
    // so the page keeps answering input while a snapshot builds.
    const deadline = performance.now() + FRAME_BUDGET;
    let done = 0;
    for (const [id, keys] of dirty) {
      if (++done % 32 === 0 && performance.now() > deadline) break;
      dirty.delete(id);
      const rec = records.get(id);
      if (keys === "new") {
        buildRow(rec);
        fresh.push(rec);
      } else if (patchRow(rec, keys)) {
        recount = true;
      }
    }
    if (dirty.size) schedule();
    if (fresh.length) {
      place(fresh);
      applyFilter(fresh);
      recount = true;
    }
    if (refilter) {
      applyFilter(records.values());
      refilter = false;
    }
    if (recount && !dirty.size) {
      recount = false;
      summarize(); // once the rows are all in: no "400 of 1000" while a snapshot builds
    }
    if (chart && records.get(chart.rec.id) !== chart.rec) closeChart();
  }

  // ---- rows --------------------------------------------------------------------------------------

  // Rows are clones of these: a thousand clones cost a fraction of a thousand h() trees.
  const proto = {
    row: h("tr", { class: "entity" },
      h("th", { scope: "row", class: "entity__name" }, h("span", { class: "entity__meta" })),
      h("td", { class: "entity__state" }, h("span", { class: "entity__value" }), h("span", { class: "entity__unit" })),
      h("td", { class: "entity__controls" }),
      h("td", { class: "entity__time" }, h("time", { class: "entity__changed" }))),
    chart: h("button", {
      type: "button", class: "link entity__chart", "data-act": "chart",
      "aria-haspopup": "dialog", title: t("entities.show_history"),
    }),
    label: h("span", { class: "entity__label" }),
  };

  function buildRow(rec) {
    const row = proto.row.cloneNode(true);
    row.dataset.entityId = rec.id;
    const [name, state, controls, time] = row.children;
    rec.row = row;
    rec.cells = {
      name,
      meta: name.firstChild,
      title: null, // the name: a button that opens the chart, or plain text
      state: state.firstChild,
      unit: state.lastChild,
      controls,
      changed: time.firstChild,
      kind: null, // the controls' shape, rebuilt only when it changes
    };
    fillName(rec);
    fillState(rec);
    fillChanged(rec);
    fillControls(rec);
  }

  /** Update the cells of the changed fields; true when the row moved or its filter may change. */
  function patchRow(rec, keys) {
    let moved = false;
    if (keys.has("dv")) {
      unplace(rec);
      place([rec]);
      moved = true;
    } else if (keys.has("n")) {
      reposition(rec);
    }
    if (keys.has("n") || keys.has("d") || keys.has("t") || keys.has("sc") || keys.has("s")) fillName(rec);
    if (keys.has("s") || keys.has("a") || keys.has("u") || keys.has("dc")) fillState(rec);
    if (keys.has("lc")) fillChanged(rec);
    if (keys.has("s") || keys.has("a") || keys.has("n") || keys.has("actions")) fillControls(rec);
    if (chart && chart.rec === rec && keys.has("s")) chartChanged(rec);
    if ([...keys].some((key) => FILTER_KEYS.has(key))) {
      applyFilter([rec]);
      return true;
    }
    return moved;
  }

  function chartable(rec) {
    if (rec.sc) return true;
    return typeof rec.s === "number" || (typeof rec.s === "string" && rec.s.trim() !== "" && Number.isFinite(Number(rec.s)));
  }

  function fillName(rec) {
    const cells = rec.cells;
    const label = rec.n || rec.x || String(rec.id);
    const kind = chartable(rec) ? proto.chart : proto.label;
    if (!cells.title || cells.title.className !== kind.className) {
      const title = kind.cloneNode(false);
      if (cells.title) cells.title.replaceWith(title);
      else cells.name.prepend(title);
      cells.title = title;
    }
    if (cells.title.textContent !== label) cells.title.textContent = label;
    cells.meta.textContent = `${rec.d} · ${rec.t}`;
    rec.hay = `${label} ${rec.d} ${rec.t}`.toLowerCase();
  }

  function unitOf(rec) {
    const unit = rec.u ?? (rec.a && rec.a.unit_of_measurement);
    return typeof unit === "string" ? unit : "";
  }

  function shownState(rec) {
    const value = rec.s;
    if (value === null || value === undefined) return t("entities.state.unknown");
    if (value === true || value === "on") return t("entities.state.on");
    if (value === false || value === "off") return t("entities.state.off");
    if (typeof value === "number") return numbers.format(value);
    if (rec.dc === "timestamp") return formatTime(value) || value;
    return String(value);
  }

  function fillState(rec) {
    const { state, unit } = rec.cells;
    state.textContent = shownState(rec);
    state.classList.toggle("muted", rec.s === null || rec.s === undefined);
    unit.textContent = rec.s === null || rec.s === undefined ? "" : unitOf(rec);
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return "";
    return (date.toDateString() === today ? timeOnly : dateTime).format(date);
  }

  function fillChanged(rec) {
    const { changed } = rec.cells;
    changed.textContent = formatTime(rec.lc);
    if (rec.lc) changed.setAttribute("datetime", rec.lc);
    else changed.removeAttribute("datetime");
  }

  // ---- controls for the declared actions ---------------------------------------------------------

  function wantType(rec) {
    const key = `${rec.d}/${rec.t}`;
    if (types.has(key)) return;
    types.set(key, null);
    api.get("/api/entities", { domain: rec.d, entity_type: rec.t, limit: 1 })
      .then((answer) => (answer.entities[0] && answer.entities[0].actions) || [])
      .catch(() => [])
      .then((actions) => {
        types.set(key, actions);
        if (closed || !actions.length) return;
        for (const other of records.values()) {
          if (`${other.d}/${other.t}` !== key) continue;
          const keys = dirty.get(other.id);
          if (keys === "new") continue;
          if (keys) keys.add("actions");
          else dirty.set(other.id, new Set(["actions"]));
        }
        schedule();
      });
  }

  function isOnOff(value) {
    return value === "on" || value === "off" || typeof value === "boolean";
  }

  function numberField(action) {
    const fields = (action.fields || []).filter((f) => f.type !== "note");
    return fields.length === 1 && fields[0].type === "number" ? fields[0] : null;
  }

  function bounds(rec) {
    const a = rec.a || {};
    const ok = (v) => typeof v === "number" && Number.isFinite(v);
    return ok(a.min) && ok(a.max) && a.max > a.min ? { min: a.min, max: a.max, step: ok(a.step) && a.step > 0 ? a.step : "any" } : null;
  }

  /** The controls' shape: rebuilt when it changes, otherwise only their values are updated. */
  function shapeOf(rec, actions) {
    const names = actions.map((a) => a.name);
    const toggles = isOnOff(rec.s) && SWITCH_ACTIONS.some((n) => names.includes(n));
    const setter = actions.find((a) => a.name === "set_value" && numberField(a));
    const range = setter ? bounds(rec) : null;
    return [toggles, range && `${range.min}:${range.max}:${range.step}`, rec.n, names.join()].join("|");
  }

  function fillControls(rec) {
    const actions = types.get(`${rec.d}/${rec.t}`) || [];
    const { controls } = rec.cells;
    const shape = shapeOf(rec, actions);
    if (shape !== rec.cells.kind) {
      rec.cells.kind = shape;
      clear(controls);
      if (actions.length) controls.append(h("div", { class: "entity__actions" }, buildControls(rec, actions)));
    }
    const sw = controls.querySelector("[role=switch]");
    if (sw) sw.setAttribute("aria-checked", String(rec.s === "on" || rec.s === true));
    const slider = controls.querySelector("input[type=range]");
    if (slider && document.activeElement !== slider && typeof rec.s === "number") {
      slider.value = String(rec.s);
      slider.setAttribute("aria-valuetext", `${shownState(rec)} ${unitOf(rec)}`.trim());
    }
    const number = controls.querySelector("input[data-field-number]");
    if (number && document.activeElement !== number && typeof rec.s === "number") number.value = String(rec.s);
  }

  function buildControls(rec, actions) {
    const label = rec.n || rec.x || String(rec.id);
    const out = [];
    const names = actions.map((a) => a.name);
    const toggles = isOnOff(rec.s) && SWITCH_ACTIONS.some((n) => names.includes(n));
    if (toggles) {
      out.push(h("button", {
        type: "button", role: "switch", class: "switch", "data-act": "switch",
        "aria-checked": String(rec.s === "on" || rec.s === true), "aria-label": label,
      }));
    }
    for (const action of actions) {
      if (toggles && SWITCH_ACTIONS.includes(action.name)) continue;
      const named = t("entities.action_of", { action: action.label, name: label });
      const fields = (action.fields || []).filter((f) => f.type !== "note");
      const single = action.name === "set_value" ? numberField(action) : null;
      if (single) {
        const range = bounds(rec);
        if (range) {
          out.push(h("input", {
            type: "range", class: "entity__slider", "data-act": "slider", "data-action": action.name,
            "data-field": single.name, min: range.min, max: range.max, step: range.step,
            value: typeof rec.s === "number" ? String(rec.s) : String(range.min), "aria-label": named,
          }));
        } else {
          out.push(h("form", { class: "entity__form entity__form--inline", "data-act": "form", "data-action": action.name },
            h("input", {
              type: "number", step: "any", name: single.name, "data-kind": "number", "data-field-number": "",
              value: typeof rec.s === "number" ? String(rec.s) : "", "aria-label": named, required: true,
            }),
            h("button", { type: "submit", "aria-label": named }, t("entities.set"))));
        }
      } else if (!fields.length) {
        out.push(h("button", { type: "button", "data-act": "press", "data-action": action.name, "aria-label": named }, action.label));
      } else {
        out.push(h("details", { class: "entity__more" },
          h("summary", { "aria-label": named }, action.label),
          h("form", { class: "entity__form", "data-act": "form", "data-action": action.name },
            fields.map(fieldInput),
            h("button", { type: "submit", class: "primary" }, t("entities.run")))));
      }
    }
    return out;
  }

  function fieldInput(field) {
    const common = { name: field.name, "data-kind": field.multiple && field.type !== "select" ? "list" : field.type };
    let input;
    if (field.type === "bool") {
      input = h("input", { ...common, type: "checkbox", checked: field.default === true });
      return h("label", { class: "entity__field entity__field--check" }, input, " ", field.label);
    }
    if (field.type === "select") {
      input = h("select", { ...common, multiple: field.multiple || undefined, required: field.required || undefined },
        (field.options || []).map((o) => h("option", { value: o.value, selected: o.value === field.default }, o.label)));
    } else if (field.multiline) {
      input = h("textarea", { ...common, rows: 2, required: field.required || undefined, placeholder: field.placeholder || undefined });
    } else {
      const type = { number: "number", password: "password", secret: "password", date: "date", time: "time", datetime: "datetime-local", color: "color" }[field.type] || "text";
      input = h("input", {
        ...common, type, step: type === "number" ? "any" : undefined, required: field.required || undefined,
        placeholder: field.placeholder || undefined, value: field.default ?? undefined,
      });
    }
    return h("label", { class: "entity__field" }, h("span", {}, field.label), input);
  }

  function formArgs(form) {
    const args = {};
    for (const input of form.querySelectorAll("[name]")) {
      const kind = input.dataset.kind;
      if (kind === "bool") args[input.name] = input.checked;
      else if (input.multiple) args[input.name] = [...input.selectedOptions].map((o) => o.value);
      else if (input.value === "") continue;
      else if (kind === "number") args[input.name] = Number(input.value);
      else if (kind === "list") args[input.name] = input.value.split(",").map((v) => v.trim()).filter(Boolean);
      else args[input.name] = input.value;
    }
    return args;
  }

  async function act(rec, action, args, control) {
    control?.setAttribute("aria-busy", "true");
    try {
      const answer = await api.post(`/api/entities/${rec.id}/action`, { action, args });
      const entity = answer && answer.entity;
      // The answer may beat the stream: show it now, unless the stream already has newer news.
      if (entity && records.get(rec.id) === rec && !(rec.lu && entity.updated_at < rec.lu)) {
        update(rec.id, { s: entity.state, a: entity.attributes, lc: entity.last_changed, lu: entity.updated_at });
        schedule();
      }
    } catch (err) {
      toast(t("entities.action_failed", { name: rec.n || rec.id, message: err.message || err }), "error");
      // Put a moved slider back where the entity really is.
      if (control?.type === "range" && typeof rec.s === "number") control.value = String(rec.s);
    } finally {
      control?.removeAttribute("aria-busy");
    }
  }

  function recordOf(target) {
    const row = target.closest("tr[data-entity-id]");
    return row ? records.get(Number(row.dataset.entityId)) : null;
  }

  function onClick(event) {
    const target = event.target.closest("[data-act]");
    if (!target || target.tagName === "FORM" || target.type === "range") return;
    const rec = recordOf(target);
    if (!rec) return;
    const kind = target.dataset.act;
    if (kind === "chart") openChart(rec);
    else if (kind === "press") act(rec, target.dataset.action, {}, target);
    else if (kind === "switch") {
      const names = (types.get(`${rec.d}/${rec.t}`) || []).map((a) => a.name);
      const on = rec.s === "on" || rec.s === true;
      const wanted = on ? "turn_off" : "turn_on";
      act(rec, names.includes(wanted) ? wanted : "toggle", {}, target);
    }
  }

  function onInput(event) {
    const target = event.target;
    if (target.type !== "range") return;
    const rec = recordOf(target);
    if (rec) target.setAttribute("aria-valuetext", `${numbers.format(Number(target.value))} ${unitOf(rec)}`.trim());
  }

  function onChange(event) {
    const target = event.target;
    if (target.type !== "range" || target.dataset.act !== "slider") return;
    const rec = recordOf(target);
    if (rec) act(rec, target.dataset.action, { [target.dataset.field]: Number(target.value) }, target);
  }

  function onSubmit(event) {
    const form = event.target;
    if (form.dataset.act !== "form") return;
    event.preventDefault();
    const rec = recordOf(form);
    if (rec) act(rec, form.dataset.action, formArgs(form), form);
  }

  // ---- groups and order --------------------------------------------------------------------------

  function groupKey(rec) {
    return rec.dv === null || rec.dv === undefined ? OTHER : rec.dv;
  }

  function compare(a, b) {
    return collator.compare(a.n || "", b.n || "") || a.id - b.id;
  }

  function groupFor(key) {
    let group = groups.get(key);
    if (group) return group;
    const title = key === OTHER ? t("entities.group.other") : t("entities.group.device", { id: key });
    const heading = h("h2", { id: `entities-group-${key}` }, title);
    const count = h("span", { class: "entities__count muted" });
    const body = h("tbody");
    const section = h("section", { class: "entities__group", "aria-labelledby": heading.id },
      h("div", { class: "entities__group-head" }, heading, count),
      h("table", { class: "entities__table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, t("entities.column.name")),
          h("th", { scope: "col" }, t("entities.column.state")),
          h("th", { scope: "col" }, t("entities.column.controls")),
          h("th", { scope: "col" }, t("entities.column.changed")))),
        body));
    group = { key, section, count, body, rows: [], shown: -1 };
    groups.set(key, group);
    // Devices in id order, the entities without one last.
    const after = [...groups.values()].filter((g) => g !== group && order(g.key) > order(key))
      .sort((a, b) => order(a.key) - order(b.key))[0];
    list.insertBefore(section, after ? after.section : null);
    return group;
  }

  function order(key) {
    return key === OTHER ? Infinity : Number(key);
  }

  function place(recs) {
    const byGroup = new Map();
    for (const rec of recs) {
      const group = groupFor(groupKey(rec));
      rec.group = group;
      if (!byGroup.has(group)) byGroup.set(group, []);
      byGroup.get(group).push(rec);
    }
    for (const [group, added] of byGroup) {
      if (added.length > BULK || !group.rows.length) {
        group.rows.push(...added);
        group.rows.sort(compare);
        const fragment = document.createDocumentFragment();
        for (const rec of group.rows) fragment.append(rec.row);
        group.body.append(fragment);
      } else {
        for (const rec of added) insertSorted(group, rec);
      }
    }
  }

  function insertSorted(group, rec) {
    let low = 0;
    let high = group.rows.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (compare(group.rows[mid], rec) < 0) low = mid + 1;
      else high = mid;
    }
    const next = group.rows[low];
    group.rows.splice(low, 0, rec);
    group.body.insertBefore(rec.row, next ? next.row : null);
  }

  function unplace(rec) {
    const group = rec.group;
    rec.row.remove();
    if (!group) return;
    const index = group.rows.indexOf(rec);
    if (index >= 0) group.rows.splice(index, 1);
    rec.group = null;
    if (!group.rows.length) {
      group.section.remove();
      groups.delete(group.key);
    }
  }

  function reposition(rec) {
    const group = rec.group;
    const index = group.rows.indexOf(rec);
    if (index >= 0) group.rows.splice(index, 1);
    insertSorted(group, rec);
  }

  // ---- filter ------------------------------------------------------------------------------------

  function matches(rec) {
    if (rec.v === false && !filter.hidden) return false;
    if (filter.domain && rec.d !== filter.domain) return false;
    return !filter.text || rec.hay.includes(filter.text);
  }

  function applyFilter(recs) {
    for (const rec of recs) {
      if (!rec.row) continue;
      const hide = !matches(rec);
      if (rec.row.hidden !== hide) rec.row.hidden = hide;
    }
  }

  function summarize() {
    let shown = 0;
    for (const group of groups.values()) {
      let visible = 0;
      for (const rec of group.rows) if (!rec.row.hidden) visible++;
      shown += visible;
      if (visible !== group.shown) {
        group.shown = visible;
        group.section.hidden = visible === 0;
        group.count.textContent = t("entities.count", { count: visible });
      }
    }
    const domains = [...new Set([...records.values()].map((r) => r.d))].sort();
    const have = [...domainSelect.options].slice(1).map((o) => o.value);
    if (domains.join() !== have.join()) {
      const chosen = domainSelect.value;
      while (domainSelect.options.length > 1) domainSelect.lastChild.remove();
      for (const domain of domains) domainSelect.append(h("option", { value: domain }, domain));
      domainSelect.value = domains.includes(chosen) ? chosen : "";
    }
    const text = !records.size
      ? t("entities.empty")
      : shown === records.size
        ? t(records.size === 1 ? "entities.total_one" : "entities.total", { count: records.size })
        : t("entities.shown", { shown, count: records.size });
    if (status.textContent !== text) status.textContent = text;
  }

  // ---- the history chart -------------------------------------------------------------------------

  async function openChart(rec) {
    closeChart();
    const name = rec.n || rec.x || String(rec.id);
    const box = h("div", { class: "entities__chart", "aria-busy": "true" }, h("p", { class: "muted" }, t("entities.loading")));
    const close = h("button", { type: "button", onclick: () => dlg.close() }, t("entities.close"));
    const dlg = dialog(t("entities.chart.title", { name }), box, { actions: [close] });
    dlg.classList.add("entities__dialog");
    const current = { rec, dialog: dlg, box, data: null };
    chart = current;
    dlg.addEventListener("close", () => { if (chart === current) chart = null; });
    try {
      current.data = await loadHistory(api, rec.id);
    } catch (err) {
      if (chart !== current) return;
      clear(box).append(h("p", { role: "alert", class: "error" }, err.message || String(err)));
      box.removeAttribute("aria-busy");
      return;
    }
    if (chart === current) drawChart(current);
  }

  function drawChart(current) {
    const { rec, box, data } = current;
    const name = rec.n || rec.x || String(rec.id);
    clear(box).append(historyChart(data, { name, unit: unitOf(rec), t, lang }));
    box.removeAttribute("aria-busy");
  }

  function chartChanged(rec) {
    const value = chartValue(rec.s);
    if (!chart.data || value === null) return;
    const now = Date.now();
    const time = Math.min(now, Date.parse(rec.lc) || now);
    chart.data.points.push({ time, value });
    chart.data.end = now;
    drawChart(chart);
  }

  function closeChart() {
    if (chart) chart.dialog.close();
    chart = null;
  }

  // ---- start and stop ----------------------------------------------------------------------------

  const stop = () => {
    closed = true;
    if (frame) cancelAnimationFrame(frame);
    closeChart();
    subscription?.();
  };
  try {
    subscription = await ws.subscribe("subscribe_entities", {}, onMessage);
  } catch (err) {
    status.textContent = t("entities.failed", { message: err.message || String(err) });
    status.setAttribute("role", "alert");
  }
  // The router only learns of this cleanup when render resolves: if it moved on while we were
  // subscribing, our page is already out of the document and must stop by itself.
  if (!page.isConnected) stop();
  return stop;
}
