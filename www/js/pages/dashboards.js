// Dashboards: the surfaces a person may see, one surface's views as tabs of cards, and its editor.

import { h, append, clear, dialog, confirmDialog } from "../dom.js";
import { renderMarkdown, safeUrl } from "../components/markdown.js";
import { surfaceChat } from "../components/surface-chat.js";

export const route = "dashboards";
export const navKey = "dashboards.nav";

const GENERIC = ["entities", "iframe", "markdown"];

export async function render(root, ctx) {
  const [slug, mode] = ctx.params.rest.split("/").map(decodeURIComponent);
  if (!slug) return renderList(root, ctx);
  return renderSurface(root, ctx, slug, mode === "edit");
}

// ---------------------------------------------------------------------------------------------- list

async function renderList(root, ctx) {
  const { t } = ctx;
  const { surfaces } = await ctx.api.get("/api/surfaces");
  const mine = surfaces.filter((s) => !s.read_only && s.owner === ctx.person.id);
  const others = surfaces.filter((s) => !mine.includes(s));
  const section = (title, items) => items.length
    ? h("section", { class: "dashboards__section", "aria-label": title },
      h("h2", {}, title),
      h("ul", { class: "dashboards__list" }, items.map((s) => listItem(s, ctx))))
    : null;
  append(root, [
    h("header", { class: "dashboards__head" },
      h("h1", {}, t("dashboards.title")),
      h("button", { type: "button", class: "primary", onclick: () => createDialog(ctx) }, t("dashboards.new"))),
    surfaces.length ? null : h("p", { class: "muted dashboards__empty" }, t("dashboards.empty")),
    section(t("dashboards.yours"), mine),
    section(t("dashboards.shared"), others),
  ]);
}

function listItem(surface, ctx) {
  return h("li", { class: "dashboards__item" },
    h("a", { href: `#/dashboards/${encodeURIComponent(surface.slug)}` }, surface.name),
    badges(surface, ctx),
    surface.description ? h("p", { class: "muted" }, surface.description) : null);
}

function badges(surface, ctx) {
  const { t } = ctx;
  return h("span", { class: "dashboards__badges" },
    surface.read_only
      ? h("span", { class: "dashboards__badge" }, t("dashboards.read_only", { domain: surface.source_domain || "?" }))
      : null,
    surface.owner === null ? h("span", { class: "dashboards__badge" }, t("dashboards.global")) : null,
    surface.kind === "chat" ? h("span", { class: "dashboards__badge" }, t("dashboards.chat_mode")) : null);
}

function createDialog(ctx) {
  const { t } = ctx;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const name = h("input", { id: "dash-name", required: true, maxlength: 100 });
  const description = h("input", { id: "dash-description", maxlength: 500 });
  const shared = h("input", { id: "dash-global", type: "checkbox" });
  const form = h("form", { class: "dashboards__form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const surface = await ctx.api.post("/api/surfaces", {
        name: name.value.trim(),
        description: description.value.trim() || null,
        scope: shared.checked ? "global" : "user",
        config: { views: [{ title: t("dashboards.view_n", { n: 1 }), cards: [] }] },
      });
      dlg.close();
      ctx.navigate(`dashboards/${encodeURIComponent(surface.slug)}/edit`);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  } },
  h("label", { for: "dash-name" }, t("dashboards.name")), name,
  h("label", { for: "dash-description" }, t("dashboards.description")), description,
  ctx.person.is_admin ? h("label", { class: "dashboards__check" }, shared, t("dashboards.share_all")) : null,
  error,
  h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => dlg.close() }, t("dashboards.cancel")),
    h("button", { type: "submit", class: "primary" }, t("dashboards.create"))));
  const dlg = dialog(t("dashboards.new"), form);
  name.focus();
}

// ------------------------------------------------------------------------------------------- surface

async function renderSurface(root, ctx, slug, startEditing) {
  const { t } = ctx;
  let surface;
  try {
    surface = await ctx.api.get(`/api/surfaces/${encodeURIComponent(slug)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    root.append(backLink(t), h("p", { role: "alert", class: "error" }, t("dashboards.not_found", { slug })));
    return null;
  }
  const live = new LiveEntities(ctx);
  const chats = new Map(); // view index → its chat panel, kept across repaints (a run may be streaming)
  const dropChats = () => { for (const chat of chats.values()) chat.destroy(); chats.clear(); };
  const canEdit = !surface.read_only && (surface.owner !== null || ctx.person.is_admin);
  let tab = 0;
  let draft = canEdit && startEditing ? editable(surface) : null;

  const saveDraft = async () => {
    try {
      surface = await ctx.api.put(`/api/surfaces/${encodeURIComponent(slug)}`, {
        name: draft.name.trim() || surface.name,
        config: draft.config,
        icon: surface.icon,
        description: draft.description.trim() || null,
        show_in_nav: surface.show_in_nav,
        scope: surface.owner === null ? "global" : "user",
      });
      draft = null;
      dropChats();
      history.replaceState(null, "", `#/dashboards/${encodeURIComponent(slug)}`);
      ctx.toast(t("dashboards.saved"));
      paint();
    } catch (err) {
      ctx.toast(err.message, "error");
    }
  };

  const remove = async () => {
    const sure = await confirmDialog(t("dashboards.delete_confirm", { name: surface.name }),
      t("dashboards.delete"), t("dashboards.cancel"));
    if (!sure) return;
    try {
      await ctx.api.del(`/api/surfaces/${encodeURIComponent(slug)}`);
      ctx.toast(t("dashboards.deleted", { name: surface.name }));
      ctx.navigate("dashboards");
    } catch (err) {
      ctx.toast(err.message, "error");
    }
  };

  function paint(focus) {
    live.forget();
    clear(root);
    const views = (draft ? draft.config : surface.config).views;
    tab = Math.min(tab, views.length - 1);
    // A split arrangement pins one view (the chat) beside the tabs of the others.
    const split = draft ? null : splitOf(surface.config, views.length);
    const tabbed = views.map((_, i) => i).filter((i) => !split || i !== split[0]);
    if (!tabbed.includes(tab)) tab = split[1];
    const head = h("header", { class: "dashboards__head" },
      draft
        ? h("input", { class: "dashboards__title-input", value: draft.name, "aria-label": t("dashboards.name"),
          maxlength: 100, oninput: (event) => { draft.name = event.target.value; } })
        : h("h1", {}, surface.name),
      badges(surface, ctx),
      h("span", { class: "dashboards__spacer" }),
      draft ? [
        h("button", { type: "button", onclick: () => { draft.config.views.push({ title: t("dashboards.view_n", { n: views.length + 1 }), cards: [] }); tab = views.length - 1; paint(); } }, t("dashboards.add_view")),
        h("button", { type: "button", onclick: () => { draft = null; history.replaceState(null, "", `#/dashboards/${encodeURIComponent(slug)}`); paint(); } }, t("dashboards.cancel")),
        h("button", { type: "button", class: "primary", onclick: saveDraft }, t("dashboards.save")),
      ] : canEdit ? [
        h("button", { type: "button", onclick: () => { draft = editable(surface); paint(); } }, t("dashboards.edit")),
        h("button", { type: "button", class: "danger", onclick: remove }, t("dashboards.delete")),
      ] : null);
    append(root, [backLink(t), head,
      draft
        ? h("div", { class: "dashboards__description" },
          h("label", { for: "dash-edit-description" }, t("dashboards.description")),
          h("input", { id: "dash-edit-description", value: draft.description, maxlength: 500,
            oninput: (event) => { draft.description = event.target.value; } }))
        : surface.description ? h("p", { class: "muted" }, surface.description) : null]);
    if (surface.read_only) root.append(h("p", { class: "muted" }, t("dashboards.read_only_hint", { domain: surface.source_domain || "?" })));
    if (tabbed.length > 1 || draft) root.append(tabList(views, t, tab, (i) => { tab = i; paint(`tab-${i}`); }, tabbed));
    root.append(split
      ? h("div", { class: "dashboards__split" }, viewPanel(views[split[0]], split[0], true), viewPanel(views[tab], tab))
      : viewPanel(views[tab], tab));
    if (focus) root.querySelector(`[data-focus="${focus}"]`)?.focus();
  }

  function viewPanel(view, index, pinned = false) {
    const panel = h("section", { id: `view-panel-${index}`, class: "dashboards__view", role: pinned ? "region" : "tabpanel",
      "aria-label": viewTitle(view, index, t) });
    if (draft) {
      panel.append(h("div", { class: "dashboards__view-tools" },
        h("label", { for: "view-title" }, t("dashboards.view_title")),
        h("input", { id: "view-title", value: view.title || "", oninput: (event) => { view.title = event.target.value; } }),
        draft.config.views.length > 1
          ? h("button", { type: "button", class: "danger", onclick: () => { draft.config.views.splice(index, 1); paint(); } }, t("dashboards.remove_view"))
          : null));
    }
    if (view.type === "chat") {
      if (draft) panel.append(h("div", { class: "card dashboards__placeholder" }, t("dashboards.chat_placeholder")));
      else {
        if (!chats.has(index)) chats.set(index, surfaceChat(ctx, slug));
        panel.append(chats.get(index).element);
      }
      return panel;
    }
    if (!Array.isArray(view.cards)) {
      panel.append(h("div", { class: "card dashboards__placeholder" }, t("dashboards.unknown_view", { type: String(view.type) })));
      return panel;
    }
    const grid = h("div", { class: "dashboards__grid" });
    view.cards.forEach((card, i) => {
      const shown = renderCard(card, ctx, live);
      grid.append(draft ? editFrame(shown, view.cards, i) : shown);
    });
    if (!view.cards.length && !draft) grid.append(h("p", { class: "muted dashboards__empty" }, t("dashboards.no_cards")));
    panel.append(grid);
    if (draft) {
      panel.append(h("button", { type: "button", class: "primary", "data-focus": "add-card", onclick: async () => {
        const card = await pickCard(ctx);
        if (card) { view.cards.push(card); paint("add-card"); }
      } }, t("dashboards.add_card")));
    }
    return panel;
  }

  function editFrame(shown, cards, i) {
    const label = cardLabel(cards[i], t);
    const move = (to) => {
      cards.splice(to, 0, cards.splice(i, 1)[0]);
      // Keep the focus on the moved card's button, or its other one once that is disabled at an end.
      const up = to < i ? to > 0 : to === cards.length - 1;
      paint(`${up ? "up" : "down"}-${to}`);
    };
    return h("div", { class: "dashboards__edit-frame" },
      h("div", { class: "dashboards__card-tools", role: "toolbar", "aria-label": t("dashboards.card_tools", { n: i + 1, card: label }) },
        h("span", { class: "muted" }, `${i + 1}. ${label}`),
        h("button", { type: "button", "data-focus": `up-${i}`, disabled: i === 0, onclick: () => move(i - 1),
          "aria-label": t("dashboards.move_up", { n: i + 1 }) }, "↑"),
        h("button", { type: "button", "data-focus": `down-${i}`, disabled: i === cards.length - 1, onclick: () => move(i + 1),
          "aria-label": t("dashboards.move_down", { n: i + 1 }) }, "↓"),
        GENERIC.includes(cards[i].type)
          ? h("button", { type: "button", "aria-label": t("dashboards.edit_card", { n: i + 1 }), onclick: async () => {
            const card = await cardDialog(ctx, cards[i].type, cards[i]);
            if (card) { cards[i] = card; paint(); }
          } }, t("dashboards.edit"))
          : null,
        h("button", { type: "button", class: "danger", "aria-label": t("dashboards.remove_card", { n: i + 1 }),
          onclick: () => { cards.splice(i, 1); paint("add-card"); } }, "✕")),
      shown);
  }

  paint();
  return () => { live.close(); dropChats(); };
}

function backLink(t) {
  return h("a", { class: "dashboards__back", href: "#/dashboards" }, `← ${t("dashboards.title")}`);
}

function editable(surface) {
  return { name: surface.name, description: surface.description || "", config: structuredClone(surface.config) };
}

function viewTitle(view, index, t) {
  return view.title || t("dashboards.view_n", { n: index + 1 });
}

/** ``[pinned, other]`` view indexes of a valid ``arrangement: {type: "split", views: [a, b]}``, else null. */
function splitOf(config, count) {
  const arrangement = config?.arrangement;
  if (arrangement?.type !== "split" || !Array.isArray(arrangement.views)) return null;
  const [a, b] = arrangement.views;
  const ok = (i) => Number.isInteger(i) && i >= 0 && i < count;
  return ok(a) && ok(b) && a !== b ? [a, b] : null;
}

function tabList(views, t, current, select, shown = views.map((_, i) => i)) {
  const tabs = shown.map((i) => h("button", {
    type: "button", role: "tab", id: `view-tab-${i}`, "data-focus": `tab-${i}`,
    "aria-selected": i === current ? "true" : "false", "aria-controls": `view-panel-${i}`,
    tabindex: i === current ? "0" : "-1", onclick: () => select(i),
  }, viewTitle(views[i], i, t)));
  return h("div", { class: "dashboards__tabs", role: "tablist", "aria-label": t("dashboards.views"), onkeydown: (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) select(shown[(shown.indexOf(current) + step + shown.length) % shown.length]);
  } }, tabs);
}

function cardLabel(card, t) {
  return GENERIC.includes(card.type) ? t(`dashboards.card.${card.type}`) : String(card.type);
}

// --------------------------------------------------------------------------------------------- cards

function renderCard(card, ctx, live) {
  const { t } = ctx;
  const title = typeof card.title === "string" && card.title ? card.title : null;
  const frame = (cls, label, ...children) => h("section", { class: `card dashboards__card ${cls}`, "aria-label": label },
    title ? h("h2", { class: "dashboards__card-title" }, title) : null, ...children);
  if (card.type === "markdown") {
    return frame("dashboards__markdown", title || t("dashboards.card.markdown"), renderMarkdown(card.content ?? ""));
  }
  if (card.type === "iframe") {
    const url = safeUrl(card.url);
    if (!url) return frame("dashboards__placeholder", title || t("dashboards.card.iframe"), h("p", {}, t("dashboards.bad_url")));
    const sameOrigin = new URL(url).origin === location.origin;
    // Same-origin content must not get allow-same-origin too: with scripts it could lift its sandbox.
    const sandbox = sameOrigin ? "allow-scripts allow-forms allow-popups" : "allow-scripts allow-same-origin allow-forms allow-popups";
    return frame("dashboards__iframe", title || t("dashboards.card.iframe"),
      h("div", { class: "dashboards__iframe-box", style: `aspect-ratio: ${aspectRatio(card.aspect_ratio)}` },
        h("iframe", { src: url, sandbox, title: title || url, loading: "lazy", referrerpolicy: "no-referrer" })));
  }
  if (card.type === "entities") {
    const body = h("div", {});
    const show = (items) => {
      clear(body);
      const rows = items.map((item) => entityRow(item, ctx, live));
      body.append(rows.length ? h("ul", { class: "dashboards__entity-list" }, rows) : h("p", { class: "muted" }, t("dashboards.no_entities")));
    };
    const explicit = Array.isArray(card.entities) ? card.entities : [];
    const query = entityFilter(card.filter);
    if (explicit.length || !query) show(explicit);
    else {
      // A template's card (e.g. OpenProject's work packages) names a filter, not entity ids.
      body.append(h("p", { class: "muted" }, "…"));
      ctx.api.get("/api/entities", { ...query, limit: 50 })
        .then((answer) => show(answer.entities.map((e) => ({ entity: e.id, name: e.name }))))
        .catch(() => show([]));
    }
    return frame("dashboards__entities", title || t("dashboards.card.entities"), body);
  }
  return frame("dashboards__placeholder", t("dashboards.unknown_card", { type: String(card.type) }),
    h("p", {}, t("dashboards.unknown_card", { type: String(card.type) })));
}

/** The query of an entities card's ``filter`` (domain, entity_type, entry_id), or null. */
function entityFilter(filter) {
  if (!filter || typeof filter !== "object") return null;
  const query = {};
  for (const key of ["domain", "entity_type", "entry_id"]) {
    if (typeof filter[key] === "string" && filter[key]) query[key] = filter[key];
  }
  return Object.keys(query).length ? query : null;
}

/** ``16:9``, ``4x3``, ``1.5`` or Lovelace's ``50%`` (height as a share of the width) → a CSS ratio. */
export function aspectRatio(raw) {
  const text = String(raw ?? "").trim();
  let match = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (match && Number(match[1]) > 0) return `100 / ${Number(match[1])}`;
  match = /^(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)$/.exec(text);
  if (match && Number(match[1]) > 0 && Number(match[2]) > 0) return `${Number(match[1])} / ${Number(match[2])}`;
  match = /^(\d+(?:\.\d+)?)$/.exec(text);
  if (match && Number(match[1]) > 0) return String(Number(match[1]));
  return "16 / 9";
}

function entityRow(item, ctx, live) {
  const { t } = ctx;
  const raw = item && typeof item === "object" ? item.entity : item;
  const label = item && typeof item === "object" && typeof item.name === "string" ? item.name : null;
  const id = /^\d+$/.test(String(raw)) ? Number(raw) : null;
  const name = h("span", { class: "dashboards__entity-name" }, label || String(raw));
  const state = h("span", { class: "dashboards__entity-state", "aria-live": "polite" }, "…");
  const tools = h("span", { class: "dashboards__entity-tools" });
  const row = h("li", { class: "dashboards__entity" }, name, state, tools);
  if (id === null) {
    state.textContent = t("dashboards.entity_missing");
    return row;
  }
  live.watch(id, (entity) => {
    if (!entity) {
      state.textContent = t("dashboards.entity_missing");
      clear(tools);
      return;
    }
    name.textContent = label || entity.name || String(id);
    const value = shownState(entity.state, ctx);
    state.textContent = entity.unit ? `${value} ${entity.unit}` : value;
    clear(tools);
    const names = (entity.actions || []).map((action) => action.name);
    const on = entity.state === "on" || entity.state === true;
    const off = entity.state === "off" || entity.state === false;
    if ((on || off) && ["toggle", "turn_on", "turn_off"].some((n) => names.includes(n))) {
      const wanted = on ? "turn_off" : "turn_on";
      tools.append(h("button", { type: "button", role: "switch", class: "switch", "aria-checked": String(on),
        "aria-label": t("dashboards.toggle", { name: entity.name || id }),
        onclick: () => live.act(id, names.includes(wanted) ? wanted : "toggle") }));
    }
  });
  return row;
}

function shownState(value, ctx) {
  if (value === null || value === undefined) return "—";
  if (value === true || value === "on") return ctx.t("dashboards.state_on");
  if (value === false || value === "off") return ctx.t("dashboards.state_off");
  if (typeof value === "number") return value.toLocaleString(ctx.lang);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// The compact keys of subscribe_entities (hub/api/websocket_entities.py) a card needs.
const COMPACT = { s: "state", a: "attributes", n: "name", u: "unit", lc: "last_changed", lu: "updated_at" };

/** Entity views for the cards on a page: fetched once, then kept live by ``subscribe_entities``
 * (or polled every 10 s when the websocket is unavailable). */
class LiveEntities {
  constructor(ctx) {
    this.ctx = ctx;
    this.entities = new Map();
    this.watchers = new Map();
    this.started = false;
    this.closed = false;
    this.unsubscribe = null;
    this.timer = null;
    this.polling = false;
  }

  watch(id, callback) {
    if (!this.watchers.has(id)) this.watchers.set(id, new Set());
    this.watchers.get(id).add(callback);
    if (this.entities.has(id)) callback(this.entities.get(id));
    else this.fetch(id);
    this.start();
  }

  /** Drop every watcher (the page repaints its cards). */
  forget() {
    this.watchers.clear();
  }

  async fetch(id) {
    try {
      const view = await this.ctx.api.get(`/api/entities/${id}`);
      // While subscribed, what the stream already sent is newer than this answer.
      this.entities.set(id, this.polling ? view : { ...view, ...(this.entities.get(id) || {}) });
    } catch (err) {
      if (err.status !== 404) return;
      this.entities.set(id, null);
    }
    this.notify(id);
  }

  async start() {
    if (this.started) return;
    this.started = true;
    try {
      const unsubscribe = await this.ctx.ws.subscribe("subscribe_entities", {}, (msg) => this.apply(msg.event || {}));
      if (this.closed) unsubscribe();
      else this.unsubscribe = unsubscribe;
    } catch {
      this.polling = true;
      if (!this.closed) this.timer = setInterval(() => { for (const id of this.watchers.keys()) this.fetch(id); }, 10000);
    }
  }

  apply(event) {
    for (const [key, fields] of Object.entries(event.a || {})) this.merge(Number(key), fields);
    for (const [key, change] of Object.entries(event.c || {})) this.merge(Number(key), change["+"] || {});
    for (const id of event.r || []) {
      if (!this.watchers.has(id)) continue;
      this.entities.set(id, null);
      this.notify(id);
    }
  }

  merge(id, fields) {
    if (!this.watchers.has(id)) return;
    const entity = { ...(this.entities.get(id) || {}) };
    for (const [short, name] of Object.entries(COMPACT)) if (short in fields) entity[name] = fields[short];
    this.entities.set(id, entity);
    this.notify(id);
  }

  async act(id, action) {
    try {
      const { entity } = await this.ctx.api.post(`/api/entities/${id}/action`, { action, args: {} });
      this.entities.set(id, { ...(this.entities.get(id) || {}), ...entity });
      this.notify(id);
    } catch (err) {
      this.ctx.toast(err.message, "error");
    }
  }

  notify(id) {
    for (const callback of this.watchers.get(id) || []) callback(this.entities.get(id));
  }

  close() {
    this.closed = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------- the picker

/** The card picker: the generic cards and the integrations' templates; resolves to a card or null. */
async function pickCard(ctx) {
  const { t } = ctx;
  let templates = [];
  try {
    templates = (await ctx.api.get("/api/cards")).cards;
  } catch (err) {
    ctx.toast(err.message, "error");
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (card) => {
      if (!settled) resolve(card);
      settled = true;
    };
    const body = h("div", { class: "dashboards__picker" });
    const option = (name, description, onpick) => h("li", {},
      h("button", { type: "button", class: "dashboards__option", onclick: onpick },
        h("strong", {}, name), description ? h("span", { class: "muted" }, description) : null));
    append(body, [
      h("h3", {}, t("dashboards.generic_cards")),
      h("ul", { class: "dashboards__options" }, GENERIC.map((type) => option(t(`dashboards.card.${type}`),
        t(`dashboards.card.${type}_hint`), () => {
          settled = true; // the settings dialog answers instead
          dlg.close();
          cardDialog(ctx, type, null).then(resolve);
        }))),
      templates.length ? [
        h("h3", {}, t("dashboards.template_cards")),
        h("ul", { class: "dashboards__options" }, templates.map((tpl) => option(tpl.name, tpl.description || tpl.domain, () => {
          finish(structuredClone(tpl.card));
          dlg.close();
        }))),
      ] : null]);
    const dlg = dialog(t("dashboards.pick_card"), body, {
      actions: [h("button", { type: "button", onclick: () => dlg.close() }, t("dashboards.cancel"))],
    });
    dlg.addEventListener("close", () => finish(null));
  });
}

/** A generic card's settings; resolves to the card, or null when cancelled. */
function cardDialog(ctx, type, initial) {
  const { t } = ctx;
  return new Promise((resolve) => {
    let result = null;
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const fields = cardFields(ctx, type, initial || {});
    const form = h("form", { class: "dashboards__form", onsubmit: (event) => {
      event.preventDefault();
      const card = fields.read();
      if (typeof card === "string") {
        error.textContent = card;
        error.hidden = false;
        return;
      }
      result = { ...(initial || {}), ...card, type };
      dlg.close();
    } }, fields.element, error, h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("dashboards.cancel")),
      h("button", { type: "submit", class: "primary" }, initial ? t("dashboards.save_card") : t("dashboards.add_card"))));
    const dlg = dialog(t("dashboards.card_settings", { card: t(`dashboards.card.${type}`) }), form);
    dlg.addEventListener("close", () => resolve(result));
  });
}

/** The inputs of a generic card, and ``read()`` → the card's fields, or an error message. */
function cardFields(ctx, type, initial) {
  const { t } = ctx;
  const title = h("input", { id: "card-title", value: initial.title || "" });
  const titleField = [h("label", { for: "card-title" }, t("dashboards.card_title")), title];
  const withTitle = (fields) => (title.value.trim() ? { title: title.value.trim(), ...fields } : { title: undefined, ...fields });
  if (type === "markdown") {
    const content = h("textarea", { id: "card-content", rows: 8, required: true }, initial.content || "");
    return {
      element: h("div", {}, titleField, h("label", { for: "card-content" }, t("dashboards.card_content")), content,
        h("p", { class: "muted" }, t("dashboards.markdown_hint"))),
      read: () => withTitle({ content: content.value }),
    };
  }
  if (type === "iframe") {
    const url = h("input", { id: "card-url", type: "url", required: true, value: initial.url || "", placeholder: "https://" });
    const ratio = h("input", { id: "card-ratio", value: initial.aspect_ratio || "", placeholder: "16:9" });
    return {
      element: h("div", {}, titleField, h("label", { for: "card-url" }, t("dashboards.card_url")), url,
        h("label", { for: "card-ratio" }, t("dashboards.card_ratio")), ratio),
      read: () => (safeUrl(url.value.trim())
        ? withTitle({ url: url.value.trim(), aspect_ratio: ratio.value.trim() || undefined })
        : t("dashboards.bad_url")),
    };
  }
  return entityFields(ctx, initial, titleField, withTitle);
}

function entityFields(ctx, initial, titleField, withTitle) {
  const { t } = ctx;
  const chosen = (Array.isArray(initial.entities) ? initial.entities : []).slice();
  const key = (item) => String(item && typeof item === "object" ? item.entity : item);
  const search = h("input", { id: "card-entity-search", type: "search", "aria-label": t("dashboards.search_entities"),
    placeholder: t("dashboards.search_entities"), oninput: () => paint() });
  const list = h("ul", { class: "dashboards__entity-picker", "aria-label": t("dashboards.entities") }, h("li", { class: "muted" }, "…"));
  let all = [];
  const paint = () => {
    clear(list);
    const needle = search.value.trim().toLowerCase();
    const shown = all.filter((e) => chosen.some((c) => key(c) === String(e.id))
      || !needle || `${e.name} ${e.domain} ${e.entity_type}`.toLowerCase().includes(needle)).slice(0, 100);
    if (!shown.length) list.append(h("li", { class: "muted" }, t("dashboards.no_matches")));
    for (const entity of shown) {
      const box = h("input", { type: "checkbox", checked: chosen.some((c) => key(c) === String(entity.id)), onchange: (event) => {
        const at = chosen.findIndex((c) => key(c) === String(entity.id));
        if (event.target.checked && at < 0) chosen.push(entity.id);
        if (!event.target.checked && at >= 0) chosen.splice(at, 1);
      } });
      list.append(h("li", {}, h("label", { class: "dashboards__check" }, box, entity.name || String(entity.id),
        h("span", { class: "muted" }, ` · ${entity.domain} · ${shownState(entity.state, ctx)}`))));
    }
  };
  ctx.api.get("/api/entities", { limit: 1000 }).then(({ entities }) => { all = entities; paint(); })
    .catch((err) => { clear(list); list.append(h("li", { class: "error" }, err.message)); });
  return {
    element: h("div", {}, titleField, h("p", { class: "dashboards__label" }, t("dashboards.entities")), search, list),
    read: () => (chosen.length ? withTitle({ entities: chosen.slice() }) : t("dashboards.pick_entity")),
  };
}
