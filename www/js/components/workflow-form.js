// The workflow editor's building blocks: inputs bound to the workflow's JSON (each edit writes into
// the object it edits, so the JSON is always what the form shows), labelled fields that carry the
// path they edit (``data-path``, e.g. ``actions[1].args.brightness``) so a server problem lands
// next to its field, key/value rows, a JSON box and the entity picker.

import { h, clear } from "../dom.js";

let seq = 0;
/** A fresh element id. */
export const uid = (prefix = "wf") => `${prefix}-${++seq}`;

/** A box for ``path``: its problems show in its own error line, first in the box. */
export function pathBox(path, attrs, ...children) {
  const error = h("p", { class: "wf-error", role: "alert", hidden: true });
  return h("div", { ...attrs, dataset: { ...(attrs?.dataset || {}), path } }, error, ...children);
}

/** A labelled control for ``path``; ``hint`` is a line under it. */
export function field(path, label, control, { hint = null, optional = false, t = null, inline = false } = {}) {
  if (!control.id) control.id = uid();
  const id = control.id;
  const error = h("p", { class: "wf-error", id: `${id}-error`, role: "alert", hidden: true });
  const hintEl = hint ? h("p", { class: "wf-hint muted", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" "));
  const tag = optional && t ? h("span", { class: "wf-optional" }, t("workflows.optional")) : null;
  const labelEl = h("label", { for: id }, label, tag ? " " : null, tag);
  if (inline) {
    return h("div", { class: "wf-field wf-field--inline", dataset: { path } }, error,
      h("div", { class: "wf-inline" }, control, labelEl), hintEl);
  }
  return h("div", { class: "wf-field", dataset: { path } }, error, labelEl, control, hintEl);
}

/** A text (or number) input writing ``obj[key]``; an empty box removes the key (the default applies). */
export function textInput(obj, key, { number = false, multiline = false, placeholder, list, type, onchange, keepEmpty = false } = {}) {
  const attrs = { placeholder, list, autocomplete: "off", spellcheck: multiline ? undefined : "false" };
  const el = multiline
    ? h("textarea", { ...attrs, rows: 3 })
    : h("input", { ...attrs, type: type || (number ? "number" : "text"), step: number ? "any" : undefined,
      inputmode: number ? "decimal" : undefined });
  const value = obj[key];
  el.value = value === null || value === undefined ? "" : String(value);
  el.addEventListener("input", () => {
    const raw = el.value;
    if (raw.trim() === "" && !keepEmpty) delete obj[key];
    else if (number) obj[key] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
    else obj[key] = raw;
    onchange?.();
  });
  return el;
}

/** A select writing ``obj[key]``; ``options`` are ``[value, label]``; ``empty`` labels a "none" option
 * (choosing it removes the key). */
export function selectInput(obj, key, options, { empty = null, onchange } = {}) {
  const current = obj[key] === undefined || obj[key] === null ? "" : String(obj[key]);
  const known = options.some(([value]) => String(value) === current);
  const el = h("select", {},
    empty !== null ? h("option", { value: "" }, empty) : null,
    // A value the options do not know (an entry since removed) stays visible, not silently replaced.
    current && !known ? h("option", { value: current }, current) : null,
    options.map(([value, label]) => h("option", { value: String(value), selected: String(value) === current }, label)));
  el.value = current || (empty !== null ? "" : String(options[0]?.[0] ?? ""));
  if (!current && empty === null && options.length) obj[key] = options[0][0];
  el.addEventListener("change", () => {
    const picked = options.find(([value]) => String(value) === el.value);
    if (el.value === "") delete obj[key];
    else obj[key] = picked ? picked[0] : el.value;
    onchange?.();
  });
  return el;
}

/** A checkbox writing ``obj[key]`` (true/false). */
export function checkInput(obj, key, { onchange } = {}) {
  const el = h("input", { type: "checkbox", checked: Boolean(obj[key]) });
  el.addEventListener("change", () => {
    obj[key] = el.checked;
    onchange?.();
  });
  return el;
}

/** A value typed into a key/value row: JSON when it reads as a number, true/false or null, else text. */
function typed(raw) {
  const text = raw.trim();
  if (/^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)$/.test(text)) return JSON.parse(text);
  if (/^["[{]/.test(text)) {
    try { return JSON.parse(text); } catch { /* text after all */ }
  }
  return raw;
}

const shown = (value) => (typeof value === "string" ? value : JSON.stringify(value));

/** Key/value rows writing ``obj[key]`` as an object; ``strings`` keeps every value as text. */
export function pairsEditor(obj, key, path, label, { t, strings = false, keyLabel, valueLabel, hint } = {}) {
  const rows = Object.entries(obj[key] || {}).map(([k, v]) => ({ k, v: shown(v) }));
  const list = h("div", { class: "wf-pairs__rows" });
  const write = () => {
    const out = {};
    for (const row of rows) if (row.k.trim()) out[row.k.trim()] = strings ? row.v : typed(row.v);
    obj[key] = out;
  };
  const paint = () => {
    clear(list).append(...rows.map((row, index) => {
      const k = h("input", { type: "text", value: row.k, autocomplete: "off", spellcheck: "false",
        "aria-label": `${keyLabel || t("workflows.key")} ${index + 1}`,
        oninput: () => { row.k = k.value; write(); } });
      const v = h("input", { type: "text", value: row.v, autocomplete: "off", spellcheck: "false",
        "aria-label": `${valueLabel || t("workflows.value")} ${index + 1}`,
        oninput: () => { row.v = v.value; write(); } });
      const remove = h("button", { type: "button", class: "link", "aria-label": t("workflows.remove_row", { n: index + 1 }),
        onclick: () => { rows.splice(index, 1); write(); paint(); } }, "✕");
      return pathBox(`${path}.${row.k.trim()}`, { class: "wf-pair" }, h("div", { class: "wf-pair__inputs" }, k, v, remove));
    }));
  };
  const add = h("button", { type: "button", class: "wf-add-row", onclick: () => {
    rows.push({ k: "", v: "" });
    paint();
    list.querySelectorAll("input")[rows.length * 2 - 2]?.focus();
  } }, t("workflows.add_row"));
  paint();
  return pathBox(path, { class: "wf-field wf-pairs", role: "group", "aria-label": label },
    h("span", { class: "wf-label" }, label),
    hint ? h("p", { class: "wf-hint muted" }, hint) : null,
    list, add);
}

/** A JSON text box writing ``obj[key]`` (parsed); while it does not parse, ``local`` holds the problem
 * under ``path`` so the form is not sent. */
export function jsonInput(obj, key, path, local, t) {
  const el = h("textarea", { rows: 4, spellcheck: "false", class: "wf-code" });
  el.value = obj[key] === undefined || obj[key] === null ? "" : JSON.stringify(obj[key], null, 2);
  el.addEventListener("input", () => {
    const text = el.value.trim();
    if (!text) {
      delete obj[key];
      local.delete(path);
      return;
    }
    try {
      obj[key] = JSON.parse(text);
      local.delete(path);
    } catch {
      local.set(path, t("workflows.json_invalid"));
    }
  });
  return el;
}

/** Comma-separated words writing ``obj[key]`` as a list. */
export function listInput(obj, key, { onchange } = {}) {
  const el = h("input", { type: "text", autocomplete: "off", value: (obj[key] || []).join(", ") });
  el.addEventListener("input", () => {
    obj[key] = el.value.split(",").map((part) => part.trim()).filter(Boolean);
    onchange?.();
  });
  return el;
}

/** The entity picker: a search box narrowing a select of the entities the workflow may name. */
export function entityPicker(obj, key, path, label, env, { optional = false, onchange } = {}) {
  const { t } = env;
  const entities = env.entities();
  const labelOf = (entity) => `${env.text.name(entity)} · ${env.text.typeName(entity)} (#${entity.id})`;
  const select = h("select", {});
  const search = h("input", { type: "search", autocomplete: "off", placeholder: t("workflows.search_entities"),
    "aria-label": t("workflows.search_entities_for", { label }) });
  const paint = () => {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const current = obj[key];
    const shownEntities = entities.filter((entity) => entity.id === current
      || words.every((word) => labelOf(entity).toLowerCase().includes(word)));
    clear(select).append(
      h("option", { value: "" }, optional ? t("workflows.no_entity") : t("workflows.choose_entity")),
      current && !entities.some((entity) => entity.id === current)
        ? h("option", { value: String(current) }, t("workflows.unknown_entity", { id: current })) : null,
      ...shownEntities.map((entity) => h("option", { value: String(entity.id) }, labelOf(entity))));
    select.value = current ? String(current) : "";
  };
  select.addEventListener("change", () => {
    if (select.value === "") delete obj[key];
    else obj[key] = Number(select.value);
    onchange?.(entities.find((entity) => entity.id === obj[key]) || null);
  });
  search.addEventListener("input", paint);
  paint();
  const box = field(path, label, select, { t, optional });
  box.querySelector("label").after(search);
  return box;
}

// Problems from the hub: each message next to the field its path names, and all of them on top.

const SEGMENT = /(\.[^.[\]]+|\[\d+\])$/;
const TYPE_SEGMENT = /\](\.(?:event|state|schedule|webhook|message|numeric|time|expression|and|or|not|entity_action|notify|agent|http|delay|choose))(?=[.[]|$)/g;

/** ``actions.1.args`` (a pydantic location) → ``actions[1].args``. */
export function normalPath(path) {
  return String(path || "").replace(/\.(\d+)(?=[.[]|$)/g, "[$1]");
}

/** The box that best holds a problem at ``path``: the deepest one whose path leads to it. */
export function boxFor(root, path) {
  const boxes = new Map([...root.querySelectorAll("[data-path]")].map((el) => [el.dataset.path, el]));
  const tries = [normalPath(path), normalPath(path).replace(TYPE_SEGMENT, "]")];
  let best = null;
  let bestLength = -1;
  for (let candidate of tries) {
    while (candidate) {
      const box = boxes.get(candidate);
      if (box && candidate.length > bestLength && !box.closest("[hidden]")) {
        best = box;
        bestLength = candidate.length;
        break;
      }
      const shorter = candidate.replace(SEGMENT, "");
      if (shorter === candidate) break;
      candidate = shorter;
    }
  }
  return best;
}

/** Clear every problem shown in ``root``. */
export function clearProblems(root) {
  for (const p of root.querySelectorAll(".wf-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of root.querySelectorAll(".wf-invalid")) el.classList.remove("wf-invalid");
}

/** Show each ``{path, message}`` next to its field; answers the boxes, in order. */
export function showProblems(root, problems) {
  const boxes = [];
  for (const problem of problems) {
    const box = boxFor(root, problem.path);
    if (!box) continue;
    const line = box.querySelector(":scope > .wf-error");
    line.textContent = line.textContent ? `${line.textContent} ${problem.message}` : problem.message;
    line.hidden = false;
    box.classList.add("wf-invalid");
    // A problem inside a folded part ("Step options") unfolds it.
    for (let fold = box.closest("details"); fold; fold = fold.parentElement?.closest("details")) fold.open = true;
    // The control the box's label names (the entity picker's select, not its search box); an
    // argument's box holds the form field's own layout.
    const forId = box.querySelector(":scope > label, :scope > .wf-inline > label")?.htmlFor;
    const control = (forId && document.getElementById(forId))
      || (box.classList.contains("wf-arg") ? box.querySelector("input:not([type=search]), select, textarea") : null);
    control?.setAttribute("aria-invalid", "true");
    boxes.push(box);
  }
  return boxes;
}
