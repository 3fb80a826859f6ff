// Dashboards: the surfaces a person may see, one surface's views as tabs of cards, and its editor.
// The cards are components/dashboard-cards.js; the editor's dialogs load on first use
// (components/dashboard-editor.js).

import { h, append, clear, dialog } from "../dom.js";
import { errorText } from "../errors.js";
import { loadEntityText } from "../entity-text.js";
import { GENERIC, cardLabel, dashboardCards } from "../components/dashboard-cards.js";
import { LiveEntities } from "../components/entity-live.js";
import { surfaceChat } from "../components/surface-chat.js";

export const route = "dashboards";
export const navKey = "dashboards.nav";

const editor = () => import("../components/dashboard-editor.js");

export async function render(root, ctx) {
  const [slug, mode] = ctx.params.rest.split("/").map(decodeURIComponent);
  if (!slug) return renderList(root, ctx);
  return renderSurface(root, ctx, slug, mode === "edit");
}

// ---------------------------------------------------------------------------------------------- list

async function renderList(root, ctx) {
  const { t } = ctx;
  const [{ surfaces }, text] = await Promise.all([ctx.api.get("/api/surfaces"), loadEntityText(ctx)]);
  const mine = surfaces.filter((s) => !s.read_only && s.owner === ctx.person.id);
  const others = surfaces.filter((s) => !mine.includes(s));
  const section = (title, items) => items.length
    ? h("section", { class: "dashboards__section", "aria-label": title },
      h("h2", {}, title),
      h("ul", { class: "dashboards__list" }, items.map((s) => listItem(s, ctx, text))))
    : null;
  append(root, [
    h("header", { class: "dashboards__head" },
      h("h1", {}, t("dashboards.title")),
      h("button", { type: "button", class: "primary", onclick: () => editor().then((m) => m.createDialog(ctx)) }, t("dashboards.new"))),
    surfaces.length ? null : h("p", { class: "muted dashboards__empty" }, t("dashboards.empty")),
    section(t("dashboards.yours"), mine),
    section(t("dashboards.shared"), others),
  ]);
}

function listItem(surface, ctx, text) {
  return h("li", { class: "dashboards__item" },
    h("a", { href: `#/dashboards/${encodeURIComponent(surface.slug)}` }, surface.name),
    badges(surface, ctx, text),
    surface.description ? h("p", { class: "muted" }, surface.description) : null);
}

function badges(surface, ctx, text) {
  const { t } = ctx;
  return h("span", { class: "dashboards__badges" },
    surface.read_only
      ? h("span", { class: "dashboards__badge" }, t("dashboards.read_only", { domain: text.integrationName(surface.source_domain) }))
      : null,
    surface.owner === null ? h("span", { class: "dashboards__badge" }, t("dashboards.global")) : null,
    surface.kind === "chat" ? h("span", { class: "dashboards__badge" }, t("dashboards.chat_mode")) : null);
}

// ------------------------------------------------------------------------------------------- surface

async function renderSurface(root, ctx, slug, startEditing) {
  const { t } = ctx;
  const words = loadEntityText(ctx, { fresh: true }); // at once with the surface, not after it
  let surface;
  try {
    surface = await ctx.api.get(`/api/surfaces/${encodeURIComponent(slug)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    root.append(backLink(t), h("p", { role: "alert", class: "error" }, t("dashboards.not_found", { slug })));
    return null;
  }
  const text = await words;
  const live = new LiveEntities(ctx);
  const cards = dashboardCards(ctx, live, text);
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
      ctx.toast(errorText(err), "error");
    }
  };

  const remove = async () => {
    if (!(await confirmDelete(ctx, surface.name))) return;
    try {
      await ctx.api.del(`/api/surfaces/${encodeURIComponent(slug)}`);
      ctx.toast(t("dashboards.deleted", { name: surface.name }));
      ctx.navigate("dashboards");
    } catch (err) {
      ctx.toast(errorText(err), "error");
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
      badges(surface, ctx, text),
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
    if (surface.read_only) root.append(h("p", { class: "muted" }, t("dashboards.read_only_hint", { domain: text.integrationName(surface.source_domain) })));
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
      const shown = cards.render(card);
      grid.append(draft ? editFrame(shown, view.cards, i) : shown);
    });
    if (!view.cards.length && !draft) grid.append(h("p", { class: "muted dashboards__empty" }, t("dashboards.no_cards")));
    panel.append(grid);
    if (draft) {
      panel.append(h("button", { type: "button", class: "primary", "data-focus": "add-card", onclick: async () => {
        const card = await (await editor()).pickCard(ctx);
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
            const card = await (await editor()).cardDialog(ctx, cards[i].type, cards[i]);
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

/** Ask before deleting: the question as the title, what it means as the body. */
function confirmDelete(ctx, name) {
  const { t } = ctx;
  return new Promise((resolve) => {
    let answer = false;
    const no = h("button", { type: "button", onclick: () => dlg.close() }, t("dashboards.cancel"));
    const yes = h("button", { type: "button", class: "danger", onclick: () => { answer = true; dlg.close(); } }, t("dashboards.delete"));
    const dlg = dialog(t("dashboards.delete_title", { name }), h("p", {}, t("dashboards.delete_body")), { actions: [no, yes] });
    dlg.addEventListener("close", () => resolve(answer));
  });
}
