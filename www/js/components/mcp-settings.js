// Settings → MCP clients (admins): whether other agents may use the hub's tools over /api/mcp, and
// the tier they are cleared for (unregulated unless raised, so internal data never leaves).

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";

const TIERS = ["unregulated", "regulated", "internal"];

/** Fill ``section`` with the MCP server's switch and tier. */
export async function mcpSection(section, ctx) {
  const { t } = ctx;
  const refill = () => mcpSection(section, ctx);
  let settings;
  try {
    settings = await ctx.api.get("/api/mcp/settings");
  } catch (err) {
    clear(section).append(h("h2", { id: "settings-mcp" }, t("settings.mcp")),
      h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const enabled = h("input", { id: "mcp-enabled", type: "checkbox", checked: Boolean(settings.enabled) });
  const tier = h("select", { id: "mcp-tier", "aria-describedby": "mcp-tier-hint" },
    TIERS.map((name) => h("option", { value: name, selected: name === settings.tier }, t(`settings.tier_${name}`))));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "primary" }, t("settings.save"));
  const form = h("form", { class: "settings__form settings__mcp", "aria-label": t("settings.mcp"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      await ctx.api.put("/api/mcp/settings", { enabled: enabled.checked, tier: tier.value });
      ctx.toast(t("settings.mcp_saved"));
      await refill();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
      save.disabled = false;
    }
  } },
  h("label", { class: "settings__check" }, enabled, t("settings.mcp_enabled")),
  h("label", { for: "mcp-tier" }, t("settings.mcp_tier")),
  tier,
  h("p", { class: "muted settings__hint", id: "mcp-tier-hint" }, t("settings.mcp_tier_hint")),
  error,
  h("div", { class: "actions" }, save));
  clear(section).append(
    h("h2", { id: "settings-mcp" }, t("settings.mcp")),
    h("p", { class: "muted" }, t("settings.mcp_hint")),
    h("p", {}, t("settings.mcp_endpoint"), " ",
      h("code", { class: "settings__mono", id: "mcp-endpoint" }, `${window.location.origin}${settings.endpoint}`)),
    h("p", { class: "muted", id: "mcp-state" }, settings.enabled ? t("settings.mcp_on") : t("settings.mcp_off")),
    form);
}
