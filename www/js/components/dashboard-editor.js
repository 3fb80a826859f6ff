// The dashboard editor's dialogs: a new dashboard, the card picker and each generic card's settings.
// Loaded the first time someone edits: viewing a dashboard never fetches this.

import { h, append, clear, dialog } from "../dom.js";
import { errorText } from "../errors.js";
import { safeUrl } from "./markdown.js";
import { GENERIC } from "./dashboard-cards.js";
import { loadEntityText } from "../entity-text.js";

/** The "new dashboard" dialog; on success the page moves to the new dashboard's editor. */
export function createDialog(ctx) {
  const { t } = ctx;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const name = h("input", { id: "dash-name", required: true, maxlength: 100 });
  const description = h("input", { id: "dash-description", maxlength: 500 });
  const shared = h("input", { id: "dash-global", type: "checkbox" });
  const submit = h("button", { type: "submit", class: "primary" }, t("dashboards.create"));
  const form = h("form", { class: "dashboards__form", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
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
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  } },
  h("label", { for: "dash-name" }, t("dashboards.name")), name,
  h("label", { for: "dash-description" }, t("dashboards.description")), description,
  ctx.person.is_admin ? h("label", { class: "dashboards__check" }, shared, t("dashboards.share_all")) : null,
  error,
  h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => dlg.close() }, t("dashboards.cancel")),
    submit));
  const dlg = dialog(t("dashboards.new"), form);
  name.focus();
}

/** The card picker: the generic cards and the integrations' templates; resolves to a card or null. */
export async function pickCard(ctx) {
  const { t } = ctx;
  let templates = [];
  try {
    templates = (await ctx.api.get("/api/cards")).cards;
  } catch (err) {
    ctx.toast(errorText(err), "error");
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
export function cardDialog(ctx, type, initial) {
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
  const list = h("ul", { class: "dashboards__entity-picker", "aria-label": t("dashboards.entities") },
    h("li", { class: "muted" }, t("dashboards.loading")));
  let all = [];
  let text = null;
  const paint = () => {
    clear(list);
    const needle = search.value.trim().toLowerCase();
    const described = all.map((entity) => ({ entity, name: text.name(entity),
      about: `${text.integrationName(entity.domain)} · ${text.state(entity)}` }));
    const shown = described.filter(({ entity, name, about }) => chosen.some((c) => key(c) === String(entity.id))
      || !needle || `${name} ${about} ${entity.domain} ${entity.entity_type}`.toLowerCase().includes(needle)).slice(0, 100);
    if (!shown.length) list.append(h("li", { class: "muted" }, t("dashboards.no_matches")));
    for (const { entity, name, about } of shown) {
      const box = h("input", { type: "checkbox", checked: chosen.some((c) => key(c) === String(entity.id)), onchange: (event) => {
        const at = chosen.findIndex((c) => key(c) === String(entity.id));
        if (event.target.checked && at < 0) chosen.push(entity.id);
        if (!event.target.checked && at >= 0) chosen.splice(at, 1);
      } });
      list.append(h("li", {}, h("label", { class: "dashboards__check" }, box, name,
        h("span", { class: "muted" }, ` · ${about}`))));
    }
  };
  Promise.all([ctx.api.get("/api/entities", { limit: 1000 }), loadEntityText(ctx)])
    .then(([{ entities }, loaded]) => { all = entities; text = loaded; paint(); })
    .catch((err) => { clear(list); list.append(h("li", { class: "error" }, errorText(err))); });
  return {
    element: h("div", {}, titleField, h("p", { class: "dashboards__label" }, t("dashboards.entities")), search, list),
    read: () => (chosen.length ? withTitle({ entities: chosen.slice() }) : t("dashboards.pick_entity")),
  };
}
