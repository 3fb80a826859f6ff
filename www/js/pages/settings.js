// Settings: the person's account (name, language, password, sign-ins) and theme, the agent's models
// and sub-agents, their long-lived tokens, and (for admins) the home location and the people.
// #/settings/<section> opens the page at that section (account, models, agents, skills, approvals,
// tokens, home, people, backups, diagnostics).

import { h, append, clear, dialog, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";
import { accountSection } from "../components/account-settings.js";
import { peopleSection } from "../components/people-settings.js";
import { homeSection } from "../components/home-settings.js";
import { modelsSection, agentsSection, fetchPreference } from "../components/models-settings.js";
import { approvalsSection } from "../components/approval-settings.js";
import { mcpSection } from "../components/mcp-settings.js";
import { skillsSection } from "../components/skills-settings.js";
import { backupsSection, diagnosticsSection } from "../components/backup-settings.js";

export const route = "settings";
export const navKey = "settings.nav";

const THEMES = ["system", "light", "dark"];

export async function render(root, ctx) {
  const { t } = ctx;
  const section = (name, labelledBy) => h("section", { class: "card settings__section", id: `settings-${name}-section`,
    "aria-labelledby": labelledBy, tabindex: "-1" });
  const models = section("models", "settings-models");
  const agents = section("agents", "settings-agents");
  const skills = section("skills", "settings-skills");
  const prefs = h("section", { class: "card settings__section", "aria-labelledby": "settings-agent-prefs" });
  const approvals = section("approvals", "settings-approvals");
  const tokens = section("tokens", "settings-tokens");
  const people = ctx.person.is_admin ? section("people", "settings-people") : null;
  const home = ctx.person.is_admin ? section("home", "settings-home") : null;
  const mcp = ctx.person.is_admin ? section("mcp", "settings-mcp") : null;
  const backups = ctx.person.is_admin ? section("backups", "settings-backups") : null;
  const diagnostics = ctx.person.is_admin ? section("diagnostics", "settings-diagnostics") : null;
  append(root, [
    h("header", { class: "settings__head" }, h("h1", {}, t("settings.title"))),
    await accountSection(ctx),
    themeSection(ctx),
    models,
    agents,
    skills,
    prefs,
    approvals,
    tokens,
    home,
    mcp,
    people,
    backups,
    diagnostics,
  ]);
  const [stopApprovals] = await Promise.all([approvalsSection(approvals, ctx), tokenSection(tokens, ctx),
    people ? peopleSection(people, ctx) : null, home ? homeSection(home, ctx) : null,
    mcp ? mcpSection(mcp, ctx) : null,
    backups ? backupsSection(backups, ctx) : null, diagnostics ? diagnosticsSection(diagnostics, ctx) : null,
    modelsSection(models, ctx), agentsSection(agents, ctx), skillsSection(skills, ctx), fetchPreference(prefs, ctx)]);
  // "Settings → Models" and the like: open at that section, once everything above it is drawn.
  const target = ctx.params.rest && document.getElementById(`settings-${ctx.params.rest.split("/")[0]}-section`);
  if (target) {
    target.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  }
  return stopApprovals;
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
                t("settings.token_revoke"), t("settings.cancel"), t("settings.token_revoke_details"));
              if (!sure) return;
              try {
                await ctx.api.del(`/api/auth/tokens/${encodeURIComponent(token.id)}`);
                ctx.toast(t("settings.token_revoked", { name: token.name }));
                await refill();
              } catch (err) {
                ctx.toast(errorText(err), "error");
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
