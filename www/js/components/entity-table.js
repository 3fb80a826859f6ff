// The entities page's table: one section per device, rows sorted by name, filtered by hiding rows.
//
// Rows are clones of one prototype (a thousand clones cost a fraction of a thousand h() trees) and
// are patched cell by cell; the controls come from the shared renderer (entity-controls.js) and
// every word from entity-text.js, so a row reads like the same entity on a dashboard.

import { h } from "../dom.js";

const OTHER = "other";
const BULK = 24; // more new rows than this in one group: append and sort once, not one by one
const HINTS = 2; // attributes shown under a row's name; the detail view shows them all

export function entityTable(ctx, list, controls) {
  const { t, lang } = ctx;
  const collator = new Intl.Collator(lang, { numeric: true, sensitivity: "base" });
  const timeOnly = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });
  const groups = new Map(); // device id or OTHER → {key, title, section, heading, count, body, rows, shown}
  let text = null;
  let today = new Date().toDateString();

  const proto = {
    row: h("tr", { class: "entity" },
      h("th", { scope: "row", class: "entity__name" },
        h("button", { type: "button", class: "link entity__open", "data-act": "open", "aria-haspopup": "dialog" }),
        h("span", { class: "entity__meta" }),
        h("span", { class: "entity__hint" })),
      h("td", { class: "entity__state" }, h("span", { class: "entity__value" }), h("span", { class: "entity__unit" })),
      h("td", { class: "entity__controls" }),
      h("td", { class: "entity__time" }, h("time", { class: "entity__changed" }))),
  };

  function build(rec) {
    const row = proto.row.cloneNode(true);
    row.dataset.entityId = rec.id;
    const [name, state, cell, time] = row.children;
    rec.row = row;
    rec.cells = {
      title: name.firstChild, meta: name.children[1], hint: name.lastChild,
      value: state.firstChild, unit: state.lastChild, controls: cell, changed: time.firstChild,
    };
    fillName(rec);
    fillState(rec);
    fillChanged(rec);
    controls.fill(cell, rec.view, text.name(rec.view));
  }

  /** Update the cells of the changed short keys; true when the row moved or its filter may change. */
  function patch(rec, keys) {
    let moved = false;
    if (keys.has("dv")) {
      unplace(rec);
      place([rec]);
      moved = true;
    } else if (keys.has("n")) {
      reposition(rec);
    }
    if (keys.has("n") || keys.has("d") || keys.has("t") || keys.has("a") || keys.has("s")) fillName(rec);
    if (keys.has("s") || keys.has("a") || keys.has("u") || keys.has("dc")) fillState(rec);
    if (keys.has("lc")) fillChanged(rec);
    if (keys.has("s") || keys.has("a") || keys.has("n") || keys.has("d") || keys.has("t")) {
      controls.fill(rec.cells.controls, rec.view, text.name(rec.view));
    }
    return moved || keys.has("n") || keys.has("d") || keys.has("t") || keys.has("v");
  }

  /** Everything again, with a newer catalog: new type names, device names, actions. */
  function relabel(recs) {
    for (const rec of recs) {
      if (!rec.row) continue;
      fillName(rec);
      fillState(rec);
      controls.fill(rec.cells.controls, rec.view, text.name(rec.view));
    }
    for (const group of groups.values()) {
      retitle(group);
      // Names may have changed with the words: the rows' order follows them.
      group.rows.sort(compare);
      group.body.append(...group.rows.map((rec) => rec.row));
    }
    reorderGroups();
  }

  function fillName(rec) {
    const { view, cells } = rec;
    const label = text.name(view);
    if (cells.title.textContent !== label) cells.title.textContent = label;
    // The type is left out where the name already is the type's ("CPU usage").
    const kind = text.typeName(view);
    const meta = kind && kind !== label ? `${text.integrationName(view.domain)} · ${kind}` : text.integrationName(view.domain);
    if (cells.meta.textContent !== meta) cells.meta.textContent = meta;
    const hint = hintOf(view);
    if (cells.hint.textContent !== hint) cells.hint.textContent = hint;
    rec.sortName = label;
    rec.hay = `${label} ${meta} ${kind} ${view.domain} ${view.entity_type}`.toLowerCase();
  }

  /** A few of the attributes the type declares, e.g. "Mount point: / · Total: 29 GB". */
  function hintOf(view) {
    const declared = text.typeOf(view)?.attributes;
    const attributes = view.attributes;
    if (!declared || !attributes) return "";
    const parts = [];
    for (const key of Object.keys(declared)) {
      const raw = attributes[key];
      if (raw === null || raw === undefined || raw === "" || typeof raw === "object") continue;
      if ((typeof raw === "string" && (raw === view.state || raw === view.name)) || key === "unit_of_measurement") continue;
      parts.push(`${text.attributeLabel(view, key)}: ${text.attributeValue(view, key, raw)}`);
      if (parts.length === HINTS) break;
    }
    return parts.join(" · ");
  }

  function fillState(rec) {
    const { value, unit } = rec.cells;
    const shown = text.value(rec.view);
    if (value.textContent !== shown) value.textContent = shown;
    value.classList.toggle("muted", rec.view.state === null || rec.view.state === undefined);
    unit.textContent = text.shownUnit(rec.view);
  }

  function fillChanged(rec) {
    const { changed } = rec.cells;
    const iso = rec.view.last_changed;
    changed.textContent = formatTime(iso);
    if (iso) changed.setAttribute("datetime", iso);
    else changed.removeAttribute("datetime");
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return "";
    return (date.toDateString() === today ? timeOnly : dateTime).format(date);
  }

  // ---- groups and order --------------------------------------------------------------------------

  function keyOf(rec) {
    const device = rec.view.device_id;
    return device === null || device === undefined ? OTHER : device;
  }

  function compare(a, b) {
    return collator.compare(a.sortName || "", b.sortName || "") || a.id - b.id;
  }

  function titleOf(group) {
    if (group.key === OTHER) return t("entities.group.other");
    const sample = group.rows[0]?.view || { device_id: group.key };
    return text.deviceName(sample) || t("entities.group.device");
  }

  function retitle(group) {
    group.title = titleOf(group);
    if (group.heading.textContent !== group.title) group.heading.textContent = group.title;
  }

  function groupFor(key, first) {
    let group = groups.get(key);
    if (group) return group;
    const heading = h("h2", { id: `entities-group-${key}` });
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
    group = { key, title: "", section, heading, count, body, rows: [], shown: -1 };
    group.title = titleOf({ key, rows: [first] });
    heading.textContent = group.title;
    groups.set(key, group);
    const after = [...groups.values()].filter((g) => g !== group && groupOrder(g, group) > 0)
      .sort(groupOrder)[0];
    list.insertBefore(section, after ? after.section : null);
    return group;
  }

  /** Devices by name, the entities without one last. */
  function groupOrder(a, b) {
    if ((a.key === OTHER) !== (b.key === OTHER)) return a.key === OTHER ? 1 : -1;
    return collator.compare(a.title, b.title) || String(a.key).localeCompare(String(b.key));
  }

  function reorderGroups() {
    const sorted = [...groups.values()].sort(groupOrder);
    for (const group of sorted) list.append(group.section);
  }

  function place(recs) {
    const byGroup = new Map();
    for (const rec of recs) {
      const group = groupFor(keyOf(rec), rec);
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

  /** Show each group's count and hide the empty ones; the number of rows shown. */
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
    return shown;
  }

  return {
    build, patch, place, unplace, relabel, summarize,
    setText(next) { text = next; },
    newFrame() { today = new Date().toDateString(); },
  };
}
