// A dashboard's cards: Markdown, a sandboxed web page, and live entities drawn by the same
// renderer as the entities page (entity-controls.js), so an entity reads and works the same here.

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";
import { renderMarkdown, safeUrl } from "./markdown.js";
import { entityControls } from "./entity-controls.js";

export const GENERIC = ["entities", "iframe", "markdown"];

// The page's frame-src lists the origins the hub's dashboards framed when the page loaded; a card
// added since (or a TradingView entry) is refused until a reload fetches the current policy.
let blockedNotice = null;
document.addEventListener("securitypolicyviolation", (event) => {
  if (event.effectiveDirective !== "frame-src" || !blockedNotice) return;
  let origin;
  try { origin = new URL(event.blockedURI).origin; } catch { return; }
  for (const frame of document.querySelectorAll(".dashboards__iframe-box iframe")) {
    if (new URL(frame.src).origin === origin) frame.parentElement.replaceWith(blockedNotice());
  }
});

export function cardLabel(card, t) {
  return GENERIC.includes(card.type) ? t(`dashboards.card.${card.type}`) : String(card.type);
}

/**
 * The cards of one painted view: ``render(card)`` → its element. ``live`` is the page's
 * LiveEntities and ``text`` its entity-text.js; one set of control listeners serves every card.
 */
export function dashboardCards(ctx, live, text) {
  const { t } = ctx;
  blockedNotice = () => h("div", { class: "dashboards__placeholder", role: "status" },
    h("p", {}, t("dashboards.frame_needs_reload")),
    h("button", { type: "button", onclick: () => location.reload() }, t("dashboards.reload")));
  const controls = entityControls(ctx, text, {
    entityOf: (element) => {
      const row = element.closest("[data-entity-id]");
      return row ? live.get(Number(row.dataset.entityId)) : null;
    },
    onResult: (entity) => live.answered(entity),
  });

  function render(card) {
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
      const section = frame("dashboards__entities", title || t("dashboards.card.entities"), entitiesBody(card));
      controls.listen(section);
      return section;
    }
    return frame("dashboards__placeholder", t("dashboards.unknown_card", { type: String(card.type) }),
      h("p", {}, t("dashboards.unknown_card", { type: String(card.type) })));
  }

  function entitiesBody(card) {
    const body = h("div", {});
    const show = (items) => {
      clear(body);
      const rows = items.map(entityRow);
      body.append(rows.length ? h("ul", { class: "dashboards__entity-list" }, rows) : h("p", { class: "muted" }, t("dashboards.no_entities")));
    };
    const explicit = Array.isArray(card.entities) ? card.entities : [];
    const query = entityFilter(card.filter);
    if (explicit.length || !query) show(explicit);
    else {
      // A template's card (e.g. OpenProject's work packages) names a filter, not entity ids.
      body.append(h("p", { class: "muted", role: "status" }, t("dashboards.loading")));
      ctx.api.get("/api/entities", { ...query, limit: 50 })
        .then((answer) => show(answer.entities.map((e) => ({ entity: e.id }))))
        .catch((err) => { clear(body); body.append(h("p", { class: "error", role: "alert" }, errorText(err))); });
    }
    return body;
  }

  function entityRow(item) {
    const raw = item && typeof item === "object" ? item.entity : item;
    const label = item && typeof item === "object" && typeof item.name === "string" && item.name ? item.name : null;
    const id = /^\d+$/.test(String(raw)) ? Number(raw) : null;
    const name = h("span", { class: "dashboards__entity-name" }, label || String(raw ?? ""));
    const value = h("span", { class: "entity__value" }, "…");
    const unit = h("span", { class: "entity__unit" });
    const state = h("span", { class: "dashboards__entity-state", "aria-live": "polite" }, value, unit);
    const tools = h("span", { class: "dashboards__entity-tools entity__controls" });
    const row = h("li", { class: "dashboards__entity", "data-entity-id": id ?? undefined }, name, state, tools);
    if (id === null) {
      value.textContent = t("dashboards.entity_missing");
      return row;
    }
    let opener = null;
    live.watch(id, (entity) => {
      if (!entity) {
        value.textContent = t("dashboards.entity_missing");
        unit.textContent = "";
        clear(tools);
        return;
      }
      const shownName = label || text.name(entity);
      if (!opener) {
        // The name opens the entity's detail view (attributes, device, history), as on the entities page.
        opener = h("button", { type: "button", class: "link entity__open", "aria-haspopup": "dialog", onclick: () => openDetail(id) });
        clear(name).append(opener);
      }
      if (opener.textContent !== shownName) opener.textContent = shownName;
      value.textContent = text.value(entity);
      value.classList.toggle("muted", entity.state === null || entity.state === undefined);
      unit.textContent = text.shownUnit(entity);
      controls.fill(tools, entity, shownName);
    });
    return row;
  }

  function openDetail(id) {
    import("./entity-detail.js")
      .then((module) => module.openEntityDetail(ctx, id))
      .catch((err) => ctx.toast(errorText(err), "error"));
  }

  return { render };
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
