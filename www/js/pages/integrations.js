// The integration catalog: search by name or domain, see each one's status, add an entry.

import { h, clear } from "../dom.js";
import { openFlow } from "../components/flow-form.js";

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

  function add(item) {
    wizard = openFlow(ctx, () => ctx.api.post("/api/config-flows", startBody(item, ctx)), {
      title: item.name,
      onDone: () => ctx.navigate("entries"),
    });
  }

  function show() {
    const query = search.value.trim().toLowerCase();
    const shown = items.filter((item) => !query
      || item.name.toLowerCase().includes(query) || item.domain.toLowerCase().includes(query));
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

function startBody(item, ctx) {
  const body = { domain: item.domain, language: ctx.lang };
  // An admin adds global entries unless the catalog only allows personal ones.
  if (ctx.person?.is_admin && !item.allowed_scopes?.includes("global") && item.allowed_scopes?.includes("user")) {
    body.scope = "user";
  }
  return body;
}

function card(item, ctx, add) {
  const { t } = ctx;
  const headingId = `integration-${item.domain}`;
  const status = !item.enabled ? "disabled" : item.status;
  const canAdd = item.status === "loaded" && item.enabled && canUseScope(item, ctx);
  return h("li", {},
    h("article", { class: "card catalog-item", "aria-labelledby": headingId, dataset: { domain: item.domain } },
      h("div", { class: "catalog-head" },
        h("h2", { id: headingId }, item.name),
        h("span", { class: `badge status-${status}` }, t(`wizard.status_${status}`))),
      h("p", { class: "muted catalog-domain" }, item.domain, item.version ? ` · ${item.version}` : null),
      h("dl", { class: "facts" },
        h("dt", {}, t("wizard.type")),
        h("dd", {}, t(`wizard.type_${item.integration_type}`)),
        h("dt", {}, t("wizard.quality_scale")),
        h("dd", {}, t(`wizard.quality_${item.quality_scale}`))),
      item.status === "failed" && item.reason
        ? h("p", { class: "error catalog-reason" }, item.reason)
        : null,
      item.missing_requirements?.length
        ? h("p", { class: "muted" }, t("wizard.missing_requirements", { list: item.missing_requirements.join(", ") }))
        : null,
      h("div", { class: "actions" },
        h("button", {
          type: "button", class: "primary", disabled: !canAdd,
          "aria-label": t("wizard.add_named", { name: item.name }),
          onclick: () => add(item),
        }, t("wizard.add")))));
}

function canUseScope(item, ctx) {
  const scopes = item.allowed_scopes || ["user", "global"];
  return ctx.person?.is_admin ? scopes.length > 0 : scopes.includes("user");
}
