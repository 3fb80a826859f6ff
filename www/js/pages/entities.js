// The entities page: every entity the person may see, live from `subscribe_entities`.
//
// The snapshot and the entity types (their words in the person's language) are asked for at once;
// rows wait for both. Later diffs change the model at once and the DOM in the next animation frame,
// touching only the cells of the fields that changed. Grouping, order and cells are
// components/entity-table.js; the controls are the shared components/entity-controls.js.

import { h } from "../dom.js";
import { errorText } from "../errors.js";
import { COMPACT, loadEntityText, restShape } from "../entity-text.js";
import { entityControls } from "../components/entity-controls.js";
import { entityTable } from "../components/entity-table.js";

export const route = "entities";
export const navKey = "entities.nav";

const FRAME_BUDGET = 10; // ms of DOM work per animation frame before the rest waits for the next
const FILTER_KEYS = new Set(["n", "d", "t", "v"]);

export async function render(root, ctx) {
  const { ws, t } = ctx;
  const records = new Map(); // id → {id, view (the REST shape), row, cells, group, hay}
  const dirty = new Map(); // id → "new" or a Set of changed short keys
  const gone = []; // records whose rows leave in the next frame
  const filter = { text: "", domain: "", hidden: false };
  let text = null; // entity-text.js, once the entity types arrived
  let frame = 0;
  let subscription = null;
  let snapshotOf = null; // the subscription id whose snapshot we hold (a reconnect makes a new one)
  let refilter = false;
  let recount = false; // the counts and the domain list wait for the next complete frame
  let relabel = false; // a newer catalog arrived: every row's words again
  let refreshing = false; // a newer catalog is on its way
  let again = false; // and another one is wanted once it arrived
  const asked = new Set(); // the unknown devices and types a newer catalog was asked for
  let closed = false;

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

  const recordOf = (element) => {
    const row = element.closest("tr[data-entity-id]");
    return row ? records.get(Number(row.dataset.entityId)) : null;
  };
  const controls = entityControls(ctx, null, {
    entityOf: (element) => recordOf(element)?.view || null,
    onResult: (entity) => {
      const rec = records.get(entity.id);
      // The answer may beat the stream: show it now, unless the stream already has newer news.
      if (!rec || (rec.view.updated_at && entity.updated_at < rec.view.updated_at)) return;
      update(rec.id, { s: entity.state, a: entity.attributes, lc: entity.last_changed, lu: entity.updated_at });
      schedule();
    },
  });
  const table = entityTable(ctx, list, controls);
  controls.listen(list);

  const refilterSoon = () => { refilter = true; schedule(); };
  search.addEventListener("input", () => { filter.text = search.value.trim().toLowerCase(); refilterSoon(); });
  domainSelect.addEventListener("change", () => { filter.domain = domainSelect.value; refilterSoon(); });
  hiddenBox.addEventListener("change", () => { filter.hidden = hiddenBox.checked; refilterSoon(); });
  list.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-act=open]");
    const rec = opener && recordOf(opener);
    if (rec) openDetail(rec.id);
  });

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
    records.set(id, { id, view: restShape(id, fields), row: null, cells: null, group: null, hay: "" });
    dirty.set(id, "new");
  }

  function update(id, fields) {
    const rec = records.get(id);
    if (!rec) return;
    let keys = dirty.get(id);
    const changed = {};
    for (const [key, value] of Object.entries(fields)) {
      const before = rec.view[COMPACT[key]];
      if (before === value && typeof value !== "object") continue;
      changed[key] = value;
      if (keys !== "new") {
        if (!keys) dirty.set(id, (keys = new Set()));
        keys.add(key);
      }
    }
    restShape(id, changed, rec.view);
  }

  function remove(id) {
    const rec = records.get(id);
    if (!rec) return;
    records.delete(id);
    dirty.delete(id);
    if (rec.row) gone.push(rec);
  }

  function schedule() {
    if (!frame && !closed && text) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (closed) return;
    table.newFrame();
    if (gone.length || refilter) recount = true;
    for (const rec of gone.splice(0)) table.unplace(rec);
    if (relabel) {
      relabel = false;
      table.relabel(records.values());
      recount = true;
    }
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
        table.build(rec);
        fresh.push(rec);
      } else if (table.patch(rec, keys)) {
        recount = true;
        if ([...keys].some((key) => FILTER_KEYS.has(key))) applyFilter([rec]);
      }
      if (keys === "new" || keys.has("dv") || keys.has("d") || keys.has("t")) learn(rec.view);
    }
    if (dirty.size) schedule();
    if (fresh.length) {
      table.place(fresh);
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
  }

  /** A device or a type the catalog does not know yet (added since the page opened): ask again,
   * once per unknown device or type, so an entity whose type the hub cannot name is no loop. */
  function learn(view) {
    let wanted = false;
    for (const key of unknownKeys(view)) {
      if (asked.has(key)) continue;
      asked.add(key);
      wanted = true;
    }
    if (!wanted) return;
    if (refreshing) again = true;
    else refresh();
  }

  function unknownKeys(view) {
    const keys = [];
    if (view.device_id !== null && view.device_id !== undefined && !text.knowsDevice(view.device_id)) keys.push(`device:${view.device_id}`);
    if (!text.knowsType(view)) keys.push(`type:${view.domain}/${view.entity_type}`);
    return keys;
  }

  function refresh() {
    refreshing = true;
    loadEntityText(ctx, { fresh: true }).then((next) => {
      refreshing = false;
      if (closed) return;
      text = next;
      table.setText(next);
      controls.setText(next);
      relabel = true;
      schedule();
      if (again) {
        again = false;
        refresh();
      }
    });
  }

  // ---- filter ------------------------------------------------------------------------------------

  function matches(rec) {
    if (rec.view.visible === false && !filter.hidden) return false;
    if (filter.domain && rec.view.domain !== filter.domain) return false;
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
    const shown = table.summarize();
    const domains = [...new Set([...records.values()].map((r) => r.view.domain))]
      .map((domain) => [domain, text.integrationName(domain)])
      .sort((a, b) => a[1].localeCompare(b[1], ctx.lang));
    const have = [...domainSelect.options].slice(1).map((o) => `${o.value}=${o.textContent}`);
    if (domains.map(([d, n]) => `${d}=${n}`).join() !== have.join()) {
      const chosen = domainSelect.value;
      while (domainSelect.options.length > 1) domainSelect.lastChild.remove();
      for (const [domain, label] of domains) domainSelect.append(h("option", { value: domain }, label));
      domainSelect.value = domains.some(([d]) => d === chosen) ? chosen : "";
    }
    const line = !records.size
      ? t("entities.empty")
      : shown === records.size
        ? t(records.size === 1 ? "entities.total_one" : "entities.total", { count: records.size })
        : t("entities.shown", { shown, count: records.size });
    if (status.textContent !== line) status.textContent = line;
  }

  // ---- the detail view ---------------------------------------------------------------------------

  function openDetail(id) {
    // Loaded on first use: the first load carries only what the list needs.
    import("../components/entity-detail.js")
      .then((module) => module.openEntityDetail(ctx, id))
      .catch((err) => ctx.toast(errorText(err), "error"));
  }

  // ---- start and stop ----------------------------------------------------------------------------

  const stop = () => {
    closed = true;
    if (frame) cancelAnimationFrame(frame);
    subscription?.();
  };
  // Both at once: the rows wait for the words, but neither request waits for the other.
  const words = loadEntityText(ctx, { fresh: true }).then((loaded) => {
    if (closed) return;
    text = loaded;
    table.setText(loaded);
    controls.setText(loaded);
    schedule();
  });
  try {
    subscription = await ws.subscribe("subscribe_entities", {}, onMessage);
  } catch (err) {
    status.textContent = t("entities.failed", { message: errorText(err) });
    status.setAttribute("role", "alert");
  }
  await words;
  // The router only learns of this cleanup when render resolves: if it moved on while we were
  // subscribing, our page is already out of the document and must stop by itself.
  if (!page.isConnected) stop();
  // #/entities/<id> links straight to one entity's detail.
  else if (/^\d+$/.test(ctx.params.rest || "")) openDetail(Number(ctx.params.rest));
  return stop;
}
