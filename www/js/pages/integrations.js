// The integration catalog: what each integration is for, whether it is set up, and adding one.

import { h, clear } from "../dom.js";

export const route = "integrations";
export const navKey = "wizard.nav_integrations";

export async function render(root, ctx) {
  const { t } = ctx;
  let wizard = null;
  let items = [];

  const search = h("input", {
    id: "integration-search", type: "search", autocomplete: "off",
    placeholder: t("wizard.search_placeholder"),
    oninput: () => show(),
  });
  const count = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const list = h("ul", { class: "catalog", "aria-label": t("wizard.integrations_title") });
  root.append(
    h("h1", {}, t("wizard.integrations_title")),
    h("div", { class: "catalog-search" },
      h("label", { for: "integration-search" }, t("wizard.search")), search),
    count,
    list,
  );

  async function add(item, scope = addScope(item, ctx)) {
    // Only the dialog needs the wizard: it is loaded on the first "Add", not with the page.
    const { openFlow } = await import("../components/flow-form.js");
    wizard = openFlow(ctx, (signal) => ctx.api.post("/api/config-flows", startBody(item, ctx, scope), { signal }), {
      title: item.name,
      onDone: () => ctx.navigate("entries"),
    });
  }

  function show() {
    const query = search.value.trim().toLowerCase();
    const shown = items.filter((item) => !query
      || item.name.toLowerCase().includes(query) || item.domain.toLowerCase().includes(query)
      || (item.description || "").toLowerCase().includes(query));
    clear(list).append(...shown.map((item) => card(item, ctx, add)));
    count.textContent = t("wizard.integrations_count", { count: shown.length, total: items.length });
  }

  const answer = await ctx.api.get("/api/integrations");
  items = (answer?.integrations || [])
    .filter((item) => item.status !== "not_found")
    .map((item) => ({ ...item, name: item.name || item.domain }))
    .sort((a, b) => a.name.localeCompare(b.name, ctx.lang));
  show();
  search.focus();

  return () => wizard?.close();
}

function addScope(item, ctx) {
  // An admin adds global entries unless the integration is personal by default (a mailbox)
  // or the catalog only allows personal ones.
  const scopes = item.allowed_scopes || ["user", "global"];
  if (!ctx.person?.is_admin || !scopes.includes("global")) return "user";
  return item.default_scope === "user" && scopes.includes("user") ? "user" : "global";
}

/** For an admin, a personal-by-default integration can still be added for the household. */
function offersHousehold(item, ctx) {
  const scopes = item.allowed_scopes || ["user", "global"];
  return Boolean(ctx.person?.is_admin) && addScope(item, ctx) === "user" && scopes.includes("global");
}

function startBody(item, ctx, scope) {
  const body = { domain: item.domain, language: ctx.lang };
  if (ctx.person?.is_admin) body.scope = scope;
  return body;
}

/** Only what is wrong gets a badge: failed to load, missing packages, switched off. */
function problem(item) {
  if (item.status === "failed") return "failed";
  if (!item.enabled) return "disabled";
  if (item.missing_requirements?.length) return "missing_requirements";
  return null;
}

function card(item, ctx, add) {
  const { t } = ctx;
  const headingId = `integration-${item.domain}`;
  const wrong = problem(item);
  const entries = item.entries || [];
  const mine = entries.filter((entry) => entry.scope === addScope(item, ctx));
  const single = item.single_instance && mine.length > 0;
  const canAdd = item.status === "loaded" && item.enabled && canUseScope(item, ctx) && !single;
  const action = single
    ? h("a", { class: "button", href: `#/entries/${encodeURIComponent(mine[0].entry_id)}` }, t("wizard.already_set_up"))
    : h("button", {
      type: "button", class: "primary", disabled: !canAdd,
      "aria-label": t("wizard.add_named", { name: item.name }),
      onclick: () => add(item),
    }, t("wizard.add"));
  const household = offersHousehold(item, ctx) && item.status === "loaded" && item.enabled
    ? h("button", {
      type: "button",
      "aria-label": t("wizard.add_household_named", { name: item.name }),
      onclick: () => add(item, "global"),
    }, t("wizard.add_household"))
    : null;
  return h("li", {},
    h("article", { class: "card catalog-item", "aria-labelledby": headingId, dataset: { domain: item.domain } },
      h("div", { class: "catalog-head" },
        icon(item),
        h("h2", { id: headingId }, item.name),
        wrong ? h("span", { class: `badge status-${wrong}` }, t(`wizard.status_${wrong}`)) : null),
      item.description ? h("p", { class: "catalog-description" }, item.description) : null,
      entries.length
        ? h("p", { class: "catalog-setup" },
          h("a", { href: `#/entries/${encodeURIComponent(entries[0].entry_id)}` },
            t(entries.length === 1 ? "wizard.set_up_once" : "wizard.set_up_many", { n: entries.length })))
        : null,
      item.status === "failed" && item.reason
        ? h("p", { class: "error catalog-reason" }, t("wizard.failed_to_load"))
        : null,
      item.missing_requirements?.length
        ? h("p", { class: "muted" }, t("wizard.missing_requirements", { list: item.missing_requirements.join(", ") }))
        : null,
      ctx.person?.is_admin ? facts(item, t) : null,
      h("div", { class: "actions" }, action, household)));
}

/** The integration's own icon when it ships one, else its initial on a colour of its own. */
function icon(item) {
  if (item.icon) return h("img", { class: "catalog-icon", src: item.icon, alt: "", width: 40, height: 40 });
  let hue = 0;
  for (const char of item.domain) hue = (hue * 31 + char.charCodeAt(0)) % 360;
  return h("span", { class: "catalog-icon catalog-initial", "aria-hidden": "true", style: `--hue: ${hue}` },
    (item.name || item.domain).charAt(0).toUpperCase());
}

/** For admins: what a developer or a bug report needs, out of the way. */
function facts(item, t) {
  return h("details", { class: "catalog-facts" },
    h("summary", {}, t("wizard.details")),
    h("dl", { class: "facts" },
      h("dt", {}, t("wizard.domain")), h("dd", {}, item.domain),
      item.version ? h("dt", {}, t("wizard.version")) : null,
      item.version ? h("dd", {}, item.version) : null,
      h("dt", {}, t("wizard.type")), h("dd", {}, t(`wizard.type_${item.integration_type}`)),
      h("dt", {}, t("wizard.quality_scale")), h("dd", {}, t(`wizard.quality_${item.quality_scale}`))),
    item.status === "failed" && item.reason ? h("p", { class: "catalog-reason" }, item.reason) : null);
}

function canUseScope(item, ctx) {
  const scopes = item.allowed_scopes || ["user", "global"];
  return ctx.person?.is_admin ? scopes.length > 0 : scopes.includes("user");
}
