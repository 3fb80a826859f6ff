// Settings: the person's language and theme, the agent's models and sub-agents, their long-lived
// tokens, and (for admins) the people.

import { h, append, clear, dialog, confirmDialog } from "../dom.js";
import { LANGUAGES } from "../i18n.js";
import { errorText } from "../errors.js";
import { modelsSection, agentsSection, fetchPreference } from "../components/models-settings.js";

export const route = "settings";
export const navKey = "settings.nav";

const THEMES = ["system", "light", "dark"];

export async function render(root, ctx) {
  const { t } = ctx;
  const models = h("section", { class: "card settings__section settings__section--wide", "aria-labelledby": "settings-models" });
  const agents = h("section", { class: "card settings__section", "aria-labelledby": "settings-agents" });
  const prefs = h("section", { class: "card settings__section", "aria-labelledby": "settings-agent-prefs" });
  const tokens = h("section", { class: "card settings__section", "aria-labelledby": "settings-tokens" });
  const people = ctx.person.is_admin
    ? h("section", { class: "card settings__section", "aria-labelledby": "settings-people" })
    : null;
  append(root, [
    h("header", { class: "settings__head" }, h("h1", {}, t("settings.title"))),
    await languageSection(ctx),
    themeSection(ctx),
    models,
    agents,
    prefs,
    tokens,
    people,
  ]);
  await Promise.all([tokenSection(tokens, ctx), people ? peopleSection(people, ctx) : null,
    modelsSection(models, ctx), agentsSection(agents, ctx), fetchPreference(prefs, ctx)]);
  return null;
}

// ------------------------------------------------------------------------------------------ language

async function languages(ctx) {
  let offered = null;
  try {
    const answer = await ctx.api.get("/api/languages");
    const list = Array.isArray(answer) ? answer : answer?.languages;
    if (Array.isArray(list)) {
      offered = list.map((item) => (typeof item === "string" ? { code: item } : item)).filter((item) => item?.code);
    } else if (list && typeof list === "object") {
      offered = Object.entries(list).map(([code, name]) => ({ code, name }));
    }
  } catch {
    // Not there (yet): the languages the UI itself is translated into.
  }
  offered = offered?.length ? offered : Object.keys(LANGUAGES).map((code) => ({ code }));
  return offered.map(({ code, name }) => ({ code, name: LANGUAGES[code] || name || displayName(code) }));
}

function displayName(code) {
  try {
    return new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

async function languageSection(ctx) {
  const { t } = ctx;
  const options = await languages(ctx);
  const wanted = ctx.person.language || ctx.lang;
  const current = options.some(({ code }) => code === wanted) ? wanted : ctx.lang;
  const select = h("select", { id: "settings-language", onchange: async () => {
    select.disabled = true;
    try {
      await ctx.api.patch(`/api/people/${encodeURIComponent(ctx.person.id)}`, { language: select.value });
      // The shell loads the person's language at start-up; starting again redraws the navigation too.
      location.reload();
    } catch (err) {
      ctx.toast(err.message, "error");
      select.disabled = false;
    }
  } }, options.map(({ code, name }) => h("option", { value: code, selected: code === current }, name)));
  return h("section", { class: "card settings__section", "aria-labelledby": "settings-account" },
    h("h2", { id: "settings-account" }, t("settings.account")),
    h("p", { class: "muted" }, t("settings.signed_in_as", { name: ctx.person.display_name || ctx.person.username })),
    h("label", { for: "settings-language" }, t("settings.language")),
    select,
    passwordForm(ctx));
}

/** Changing one's own password: the hub asks for the current one and keeps this sign-in. */
function passwordForm(ctx) {
  const { t } = ctx;
  const current = h("input", { id: "settings-current-password", type: "password", required: true, autocomplete: "current-password" });
  const fresh = h("input", { id: "settings-new-password", type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "settings__form", "aria-label": t("settings.password_change"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await ctx.api.patch(`/api/people/${encodeURIComponent(ctx.person.id)}`,
        { password: fresh.value, current_password: current.value });
      form.reset();
      ctx.toast(t("settings.password_changed"));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  } },
  h("h3", {}, t("settings.password_change")),
  h("label", { for: "settings-current-password" }, t("settings.current_password")), current,
  h("label", { for: "settings-new-password" }, t("settings.new_password")), fresh,
  error,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("settings.password_change"))));
  return form;
}

// --------------------------------------------------------------------------------------------- theme

function themeSection(ctx) {
  const { t } = ctx;
  const stored = localStorage.getItem("hub.theme");
  const current = THEMES.includes(stored) ? stored : "system";
  const choices = THEMES.map((theme) => h("label", { class: "settings__check" },
    h("input", { type: "radio", name: "theme", value: theme, checked: theme === current, onchange: () => {
      localStorage.setItem("hub.theme", theme);
      document.documentElement.dataset.theme = theme;
    } }),
    t(`settings.theme_${theme}`)));
  return h("section", { class: "card settings__section" },
    h("fieldset", { class: "settings__choices" }, h("legend", {}, t("settings.theme")), choices));
}

// -------------------------------------------------------------------------------------------- tokens

async function tokenSection(section, ctx) {
  const { t } = ctx;
  const { tokens } = await ctx.api.get("/api/auth/tokens");
  const named = tokens.filter((token) => token.kind === "long_lived");
  const name = h("input", { id: "token-name", required: true, maxlength: 100 });
  const form = h("form", { class: "settings__inline", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const created = await ctx.api.post("/api/auth/tokens", { name: name.value.trim() });
      await showToken(created, ctx);
      await refill();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  } },
  h("label", { for: "token-name" }, t("settings.token_name")), name,
  h("button", { type: "submit", class: "primary" }, t("settings.token_create")));
  const refill = () => {
    clear(section);
    return tokenSection(section, ctx);
  };
  section.append(
    h("h2", { id: "settings-tokens" }, t("settings.tokens")),
    h("p", { class: "muted" }, t("settings.tokens_hint")),
    named.length
      ? h("table", { class: "settings__table", "aria-label": t("settings.tokens") },
        h("thead", {}, h("tr", {}, h("th", {}, t("settings.token_name")), h("th", {}, t("settings.created")), h("th", {}, ""))),
        h("tbody", {}, named.map((token) => h("tr", {},
          h("td", {}, token.name),
          h("td", {}, new Date(token.created_at * 1000).toLocaleString(ctx.lang)),
          h("td", {}, h("button", { type: "button", class: "danger", "aria-label": t("settings.token_revoke_named", { name: token.name }),
            onclick: async () => {
              const sure = await confirmDialog(t("settings.token_revoke_confirm", { name: token.name }),
                t("settings.token_revoke"), t("settings.cancel"));
              if (!sure) return;
              try {
                await ctx.api.del(`/api/auth/tokens/${encodeURIComponent(token.id)}`);
                ctx.toast(t("settings.token_revoked", { name: token.name }));
                await refill();
              } catch (err) {
                ctx.toast(err.message, "error");
              }
            } }, t("settings.token_revoke")))))))
      : h("p", { class: "muted settings__empty" }, t("settings.no_tokens")),
    form);
}

/** The new token, this once, with a copy button; resolves when the dialog closes. */
function showToken(created, ctx) {
  const { t } = ctx;
  const value = h("input", { id: "token-value", readonly: true, value: created.token, class: "settings__mono", "aria-label": t("settings.token_value") });
  const copied = h("span", { class: "muted", role: "status" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
    } catch {
      value.select();
      document.execCommand("copy");
    }
    copied.textContent = t("settings.copied");
  };
  const dlg = dialog(t("settings.token_created", { name: created.name }),
    h("div", { class: "settings__token" },
      h("p", {}, t("settings.token_once")),
      h("div", { class: "settings__inline" }, value, h("button", { type: "button", onclick: copy }, t("settings.copy"))),
      copied),
    { actions: [h("button", { type: "button", class: "primary", onclick: () => dlg.close() }, t("settings.done"))] });
  value.select();
  return new Promise((resolve) => dlg.addEventListener("close", resolve));
}

// -------------------------------------------------------------------------------------------- people

/** Ask what becomes of a person's own entries; resolves to the DELETE query, or null if cancelled. */
function askEntries(person, heirs, ctx) {
  const { t } = ctx;
  const choice = (value, label, checked) => h("label", { class: "settings__check" },
    h("input", { type: "radio", name: "person-entries", value, checked }), label);
  const heir = h("select", { id: "person-heir" },
    heirs.map((admin) => h("option", { value: admin.id }, admin.display_name || admin.username)));
  const body = h("div", {},
    h("p", {}, t(person.entries === 1 ? "settings.person_remove_entries_one" : "settings.person_remove_entries", { name: person.username, count: person.entries })),
    h("fieldset", { class: "settings__choices" },
      h("legend", {}, t("settings.person_entries")),
      choice("delete", t("settings.person_entries_delete"), true),
      heirs.length ? choice("transfer", t("settings.person_entries_transfer"), false) : null),
    heirs.length ? h("label", { for: "person-heir" }, t("settings.person_entries_heir")) : null,
    heirs.length ? heir : null,
    h("p", { class: "muted" }, t("settings.person_remove_also")));
  return new Promise((resolve) => {
    let answer = null;
    const yes = h("button", { class: "danger", type: "button", onclick: () => {
      const picked = body.querySelector("input[name=person-entries]:checked")?.value;
      answer = picked === "transfer" ? `?transfer_to=${encodeURIComponent(heir.value)}` : "?entries=delete";
      dlg.close();
    } }, t("settings.person_remove"));
    const no = h("button", { type: "button", onclick: () => dlg.close() }, t("settings.cancel"));
    const dlg = dialog(t("settings.person_remove_title", { name: person.username }), body, { actions: [no, yes] });
    dlg.addEventListener("close", () => resolve(answer));
  });
}

async function peopleSection(section, ctx) {
  const { t } = ctx;
  const { people } = await ctx.api.get("/api/people");
  const refill = () => {
    clear(section);
    return peopleSection(section, ctx);
  };
  const admins = people.filter((p) => p.is_admin);
  const remove = async (person) => {
    const query = person.entries
      ? await askEntries(person, admins.filter((p) => p.id !== person.id), ctx)
      : (await confirmDialog(t("settings.person_remove_confirm", { name: person.username }),
        t("settings.person_remove"), t("settings.cancel"))) && "";
    if (query === null || query === false) return;
    try {
      await ctx.api.del(`/api/people/${encodeURIComponent(person.id)}${query}`);
      ctx.toast(t("settings.person_removed", { name: person.username }));
      await refill();
    } catch (err) {
      ctx.toast(err.message, "error");
    }
  };
  const username = h("input", { id: "person-username", required: true, maxlength: 64, autocomplete: "off" });
  const password = h("input", { id: "person-password", type: "password", required: true, autocomplete: "new-password" });
  const displayName = h("input", { id: "person-display-name", maxlength: 100 });
  const admin = h("input", { id: "person-admin", type: "checkbox" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "settings__form settings__add", "aria-label": t("settings.person_add"), onsubmit: async (event) => {
    event.preventDefault();
    try {
      await ctx.api.post("/api/people", {
        username: username.value.trim(),
        password: password.value,
        display_name: displayName.value.trim() || null,
        is_admin: admin.checked,
      });
      ctx.toast(t("settings.person_added", { name: username.value.trim() }));
      await refill();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  } },
  h("h3", {}, t("settings.person_add")),
  h("label", { for: "person-username" }, t("settings.username")), username,
  h("label", { for: "person-password" }, t("settings.password")), password,
  h("label", { for: "person-display-name" }, t("settings.display_name")), displayName,
  h("label", { class: "settings__check" }, admin, t("settings.admin")),
  error,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("settings.person_add"))));
  section.append(
    h("h2", { id: "settings-people" }, t("settings.people")),
    h("table", { class: "settings__table", "aria-label": t("settings.people") },
      h("thead", {}, h("tr", {}, h("th", {}, t("settings.username")), h("th", {}, t("settings.display_name")),
        h("th", {}, t("settings.role")), h("th", {}, t("settings.person_entries")), h("th", {}, ""))),
      h("tbody", {}, people.map((person) => h("tr", {},
        h("td", {}, person.username),
        h("td", {}, person.display_name || "—"),
        h("td", {}, person.is_admin ? t("settings.admin") : t("settings.member")),
        h("td", {}, String(person.entries ?? 0)),
        h("td", {}, person.id === ctx.person.id
          ? h("span", { class: "muted" }, t("settings.you"))
          : h("button", { type: "button", class: "danger", "aria-label": t("settings.person_remove_named", { name: person.username }),
            onclick: () => remove(person) }, t("settings.person_remove"))))))),
    form);
}
