// Settings → Models: the language models the agent may use (admins add, edit and remove them; the
// ones from configuration.yaml can only be made the default), and the sub-agents with their switches.

import { h, clear, dialog, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";

const TIERS = ["unregulated", "regulated", "internal"];

/** Fill ``section`` with the models list (and, for admins, its controls). */
export async function modelsSection(section, ctx) {
  const { t } = ctx;
  const admin = ctx.person.is_admin;
  const refill = () => modelsSection(section, ctx);
  let answer;
  try {
    answer = await ctx.api.get("/api/models");
  } catch (err) {
    clear(section).append(h("h2", { id: "settings-models" }, t("settings.models")),
      h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const models = answer.models || [];
  const act = async (call, done) => {
    try {
      await call();
      if (done) ctx.toast(done);
      await refill();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  };
  const remove = async (model) => {
    const sure = await confirmDialog(t("settings.model_delete_confirm", { name: model.name }),
      t("settings.model_delete"), t("settings.cancel"), t("settings.model_delete_details"));
    if (sure) await act(() => ctx.api.del(`/api/models/${encodeURIComponent(model.name)}`), t("settings.model_deleted", { name: model.name }));
  };
  const makeDefault = (model) => act(() => ctx.api.patch(`/api/models/${encodeURIComponent(model.name)}`, { is_default: true }));
  const tools = (model) => [
    model.is_default ? null : h("button", { type: "button", "aria-label": t("settings.model_make_default_named", { name: model.name }),
      onclick: () => makeDefault(model) }, t("settings.model_make_default")),
    model.read_only ? null : h("button", { type: "button", "aria-label": t("settings.model_edit_named", { name: model.name }),
      onclick: () => modelDialog(ctx, model, refill) }, t("settings.model_edit")),
    model.read_only ? null : h("button", { type: "button", class: "danger", "aria-label": t("settings.model_delete_named", { name: model.name }),
      onclick: () => remove(model) }, t("settings.model_delete")),
  ];
  clear(section).append(
    h("h2", { id: "settings-models" }, t("settings.models")),
    h("p", { class: "muted" }, t("settings.models_hint")),
    models.length
      ? h("div", { class: "settings__scroll" }, h("table", { class: "settings__table settings__models", "aria-label": t("settings.models") },
        h("thead", {}, h("tr", {}, ["model_name", "model_id", "model_base_url", "model_tier", "model_key"]
          .map((key) => h("th", {}, t(`settings.${key}`))), admin ? h("th", {}, "") : null)),
        h("tbody", {}, models.map((model) => h("tr", {},
          h("td", {}, h("strong", {}, model.name),
            model.is_default ? h("span", { class: "settings__badge" }, t("settings.model_default_badge")) : null,
            model.read_only ? h("span", { class: "settings__badge" }, t("settings.model_from_config")) : null),
          h("td", { class: "settings__mono" }, model.model),
          h("td", { class: "settings__mono" }, model.base_url),
          h("td", {}, t(`settings.tier_${model.tier}`)),
          h("td", {}, keyText(model, t)),
          admin ? h("td", {}, h("div", { class: "settings__row-tools" }, tools(model))) : null)))))
      : h("p", { class: "muted settings__empty" }, t("settings.no_models")),
    admin
      ? h("button", { type: "button", class: "primary", onclick: () => modelDialog(ctx, null, refill) }, t("settings.model_add"))
      : h("p", { class: "muted" }, t("settings.models_admin_only")));
}

function keyText(model, t) {
  if (model.has_api_key) return t("settings.key_stored");
  if (model.api_key_env) return t("settings.key_env", { env: `$${model.api_key_env}` });
  return h("span", { class: "muted" }, t("settings.key_none"));
}

/** Add (``model`` null) or edit a model in a dialog; ``done()`` after saving. */
function modelDialog(ctx, model, done) {
  const { t } = ctx;
  const editing = Boolean(model);
  const field = (id, label, input, hint) => [h("label", { for: id }, label), input,
    hint ? h("p", { class: "muted settings__hint", id: `${id}-hint` }, hint) : null];
  const name = h("input", { id: "model-name", required: true, maxlength: 64, value: model?.name || "", disabled: editing,
    autocomplete: "off" });
  const baseUrl = h("input", { id: "model-base-url", type: "url", required: true, value: model?.base_url || "",
    placeholder: "https://api.openai.com/v1", "aria-describedby": "model-base-url-hint" });
  const modelId = h("input", { id: "model-id", required: true, value: model?.model || "", placeholder: "gpt-4o-mini", autocomplete: "off" });
  const tier = h("select", { id: "model-tier", "aria-describedby": "model-tier-hint" },
    TIERS.map((name) => h("option", { value: name, selected: name === (model?.tier || "unregulated") }, t(`settings.tier_${name}`))));
  const apiKey = h("input", { id: "model-api-key", type: "password", autocomplete: "new-password",
    "aria-describedby": "model-api-key-hint" });
  const clearKey = h("input", { id: "model-clear-key", type: "checkbox", onchange: () => {
    apiKey.disabled = clearKey.checked;
    if (clearKey.checked) apiKey.value = "";
  } });
  const isDefault = h("input", { id: "model-default", type: "checkbox", checked: Boolean(model?.is_default) });
  const error = h("p", { class: "error", role: "alert", hidden: true });

  const body = () => {
    const out = { base_url: baseUrl.value.trim(), model: modelId.value.trim(), tier: tier.value, is_default: isDefault.checked };
    if (!editing) out.name = name.value.trim();
    if (clearKey.checked) out.api_key = "";
    else if (apiKey.value) out.api_key = apiKey.value;
    // No environment variable here: the hub would send its value to this model's address, so only
    // configuration.yaml may name one.
    return out;
  };
  const form = h("form", { class: "settings__form settings__model-form", onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      if (editing) await ctx.api.patch(`/api/models/${encodeURIComponent(model.name)}`, body());
      else await ctx.api.post("/api/models", body());
      dlg.close();
      ctx.toast(t(editing ? "settings.model_saved" : "settings.model_added", { name: model?.name || name.value.trim() }));
      await done();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  } },
  field("model-name", t("settings.model_name"), name),
  field("model-base-url", t("settings.model_base_url"), baseUrl, t("settings.model_base_url_hint")),
  field("model-id", t("settings.model_id"), modelId),
  field("model-tier", t("settings.model_tier"), tier, t("settings.tier_hint")),
  field("model-api-key", t("settings.model_api_key"), apiKey,
    model?.has_api_key ? t("settings.model_api_key_keep") : t("settings.model_api_key_hint")),
  model?.has_api_key ? h("label", { class: "settings__check" }, clearKey, t("settings.model_clear_key")) : null,
  h("label", { class: "settings__check" }, isDefault, t("settings.model_default")),
  error,
  h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => dlg.close() }, t("settings.cancel")),
    h("button", { type: "submit", class: "primary" }, editing ? t("settings.model_save") : t("settings.model_add"))));
  const dlg = dialog(editing ? t("settings.model_edit_title", { name: model.name }) : t("settings.model_add"), form);
  (editing ? baseUrl : name).focus();
}

// ----------------------------------------------------------------------------------------- sub-agents

/** Fill ``section`` with the sub-agents and their on/off switches (admins switch them). */
export async function agentsSection(section, ctx) {
  const { t } = ctx;
  let agents;
  try {
    agents = (await ctx.api.get("/api/agents")).agents || [];
  } catch (err) {
    clear(section).append(h("h2", { id: "settings-agents" }, t("settings.agents")),
      h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const row = (agent) => {
    const toggle = h("button", { type: "button", role: "switch", class: "switch", "aria-checked": String(Boolean(agent.enabled)),
      "aria-label": t("settings.agent_enabled", { name: agent.name || agent.slug }), disabled: agent.owner === null && !ctx.person.is_admin, // a global one is the admins' to switch
      onclick: async () => {
        toggle.disabled = true;
        try {
          const saved = await ctx.api.patch(`/api/agents/${encodeURIComponent(agent.slug)}`, { enabled: !agent.enabled });
          agent.enabled = Boolean(saved?.enabled ?? !agent.enabled);
          toggle.setAttribute("aria-checked", String(agent.enabled));
        } catch (err) {
          ctx.toast(errorText(err), "error");
        } finally {
          toggle.disabled = false;
        }
      } });
    return h("li", { class: "settings__agent" },
      h("div", { class: "settings__agent-text" },
        h("strong", {}, agent.name || agent.slug),
        agent.source_domain ? h("span", { class: "settings__badge" }, agent.source_domain) : null,
        agent.requires_surface ? h("span", { class: "settings__badge" }, t("settings.agent_surface_only")) : null,
        agent.description ? h("p", { class: "muted" }, agent.description) : null),
      toggle);
  };
  clear(section).append(
    h("h2", { id: "settings-agents" }, t("settings.agents")),
    h("p", { class: "muted" }, t("settings.agents_hint")),
    agents.length
      ? h("ul", { class: "settings__agents", "aria-label": t("settings.agents") }, agents.map(row))
      : h("p", { class: "muted settings__empty" }, t("settings.no_agents")));
}

/** The person's own agent preference: whether web fetch may reach addresses on their network. */
export async function fetchPreference(section, ctx) {
  const { t } = ctx;
  let prefs;
  try {
    prefs = await ctx.api.get("/api/agent/preferences");
  } catch (err) {
    clear(section).append(h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  // Only admins may open the LAN to web fetch: a member sees the setting, switched off and disabled.
  const admin = ctx.person.is_admin;
  const box = h("input", { type: "checkbox", id: "allow-local-fetch", checked: Boolean(prefs.allow_local_fetch),
    disabled: !admin, "aria-describedby": "allow-local-fetch-hint",
    onchange: async () => {
      box.disabled = true;
      try {
        const saved = await ctx.api.patch("/api/agent/preferences", { allow_local_fetch: box.checked });
        box.checked = Boolean(saved.allow_local_fetch);
      } catch (err) {
        box.checked = !box.checked;
        ctx.toast(errorText(err), "error");
      } finally {
        box.disabled = false;
      }
    } });
  clear(section).append(
    h("h2", { id: "settings-agent-prefs" }, t("settings.agent_prefs")),
    h("label", { class: "settings__check", for: "allow-local-fetch" }, box, t("settings.allow_local_fetch")),
    h("p", { class: "muted", id: "allow-local-fetch-hint" },
      t(admin ? "settings.allow_local_fetch_hint" : "settings.allow_local_fetch_admin_only")));
}
