// Settings → Skills: every skill the person may see, with its source and their own on/off switch.
// Before a skill that is off is switched on, the person reads exactly what it puts before the model
// (the line in every run's instructions and the text use_skill returns), then confirms. A person's
// own skills are written, changed and deleted here; an integration's are read-only.

import { h, clear, dialog, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";

const MAX_INSTRUCTIONS = 20000;
const MAX_DESCRIPTION = 500;
const MAX_NAME = 100;

/** Fill ``section`` (a card with id settings-skills-section) with the skills. */
export async function skillsSection(section, ctx) {
  const { t } = ctx;
  const refill = () => skillsSection(section, ctx);
  let skills;
  try {
    skills = (await ctx.api.get("/api/skills")).skills || [];
  } catch (err) {
    clear(section).append(h("h2", { id: "settings-skills" }, t("skills.title")),
      h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  skills.sort((a, b) => Number(Boolean(b.own)) - Number(Boolean(a.own)) || String(a.name).localeCompare(String(b.name), ctx.lang));
  const add = h("button", { type: "button", class: "primary", onclick: async () => {
    if (await editSkill(ctx, null)) await refill();
  } }, t("skills.new"));
  clear(section).append(
    h("h2", { id: "settings-skills" }, t("skills.title")),
    h("p", { class: "muted" }, t("skills.hint")),
    skills.length
      ? h("ul", { class: "skills__list", "aria-label": t("skills.title") }, skills.map((skill) => skillRow(skill, ctx, refill)))
      : h("p", { class: "muted settings__empty" }, t("skills.none")),
    h("div", { class: "actions" }, add));
}

function skillRow(skill, ctx, refill) {
  const { t } = ctx;
  const path = `/api/skills/${encodeURIComponent(skill.id)}`;
  const toggle = h("button", { type: "button", role: "switch", class: "switch", "aria-checked": String(Boolean(skill.enabled)),
    "aria-label": t("skills.enabled_named", { name: skill.name }),
    onclick: async () => {
      const on = !skill.enabled;
      // Switching on: first what the model will read, word for word.
      if (on && !(await preview(skill, ctx, { confirm: true }))) return;
      toggle.disabled = true;
      try {
        const saved = await ctx.api.patch(path, { enabled: on });
        skill.enabled = Boolean(saved?.enabled ?? on);
        toggle.setAttribute("aria-checked", String(skill.enabled));
        ctx.toast(t(skill.enabled ? "skills.switched_on" : "skills.switched_off", { name: skill.name }));
      } catch (err) {
        ctx.toast(errorText(err), "error");
      } finally {
        toggle.disabled = false;
      }
    } });
  const tools = [
    h("button", { type: "button", "aria-label": t("skills.show_text_named", { name: skill.name }),
      onclick: () => preview(skill, ctx, { confirm: false }) }, t("skills.show_text")),
  ];
  if (skill.own) {
    tools.push(
      h("button", { type: "button", "aria-label": t("skills.edit_named", { name: skill.name }), onclick: async () => {
        if (await editSkill(ctx, skill)) await refill();
      } }, t("skills.edit")),
      h("button", { type: "button", class: "danger", "aria-label": t("skills.delete_named", { name: skill.name }),
        onclick: async () => {
          const sure = await confirmDialog(t("skills.delete_question", { name: skill.name }), t("skills.delete"),
            t("skills.cancel"), t("skills.delete_details"));
          if (!sure) return;
          try {
            await ctx.api.del(path);
            ctx.toast(t("skills.deleted", { name: skill.name }));
            await refill();
          } catch (err) {
            ctx.toast(errorText(err), "error");
          }
        } }, t("skills.delete")));
  }
  const required = skill.required_tools || [];
  return h("li", { class: "skills__item", dataset: { skill: skill.id } },
    toggle,
    h("div", { class: "skills__text" },
      h("strong", {}, skill.name),
      h("span", { class: "settings__badge" },
        skill.own ? t("skills.source_person") : t("skills.source_integration", { domain: skill.source })),
      !skill.own && skill.owner === null ? h("span", { class: "settings__badge" }, t("skills.household_badge")) : null,
      skill.description ? h("p", { class: "muted" }, skill.description) : null,
      required.length ? h("p", { class: "muted" }, t("skills.needs_tools", { tools: required.join(", ") })) : null,
      h("div", { class: "skills__tools" }, tools)));
}

/** The exact texts the skill puts before the model. With ``confirm``: resolves true when the person
 * switches it on; without: a read-only look, resolving when closed. */
function preview(skill, ctx, { confirm }) {
  const { t } = ctx;
  return new Promise((resolve) => {
    let answer = false;
    const body = h("div", { class: "skills__texts" },
      h("p", { id: "skill-listing-label" }, t("skills.enable_listing")),
      h("pre", { class: "skills__preview", "aria-labelledby": "skill-listing-label", tabindex: "0" }, skill.listing_text ?? ""),
      h("p", { id: "skill-context-label" }, t("skills.enable_context")),
      h("pre", { class: "skills__preview", "aria-labelledby": "skill-context-label", tabindex: "0" }, skill.context_text ?? ""));
    const close = h("button", { type: "button", onclick: () => dlg.close() }, confirm ? t("skills.cancel") : t("skills.close"));
    const yes = confirm
      ? h("button", { type: "button", class: "primary", onclick: () => { answer = true; dlg.close(); } }, t("skills.enable_confirm"))
      : null;
    const title = confirm ? t("skills.enable_title", { name: skill.name }) : t("skills.show_text_named", { name: skill.name });
    const dlg = dialog(title, body, { actions: [close, yes].filter(Boolean) });
    dlg.classList.add("skills__dialog");
    dlg.addEventListener("close", () => resolve(answer));
    (yes || close).focus();
  });
}

/** Write a new skill (``skill`` null) or change one's own; resolves true when saved. */
function editSkill(ctx, skill) {
  const { t } = ctx;
  const count = (n) => n.toLocaleString(ctx.lang);
  return new Promise((resolve) => {
    let saved = false;
    const name = h("input", { id: "skill-name", required: true, maxlength: MAX_NAME, value: skill?.name || "", autocomplete: "off" });
    const description = h("textarea", { id: "skill-description", rows: 2, required: true, maxlength: MAX_DESCRIPTION,
      "aria-describedby": "skill-description-hint" });
    description.value = skill?.description || "";
    const instructions = h("textarea", { id: "skill-instructions", rows: 12, required: true,
      "aria-describedby": "skill-instructions-hint skill-instructions-count" });
    instructions.value = skill?.instructions || "";
    const counter = h("p", { class: "muted skills__count", id: "skill-instructions-count", "aria-live": "polite" });
    const recount = () => {
      const n = instructions.value.length;
      counter.textContent = t("skills.count", { n: count(n), max: count(MAX_INSTRUCTIONS) });
      counter.classList.toggle("skills__count--over", n > MAX_INSTRUCTIONS);
    };
    instructions.addEventListener("input", recount);
    recount();
    const tools = h("input", { id: "skill-tools", value: (skill?.required_tools || []).join(", "), autocomplete: "off",
      "aria-describedby": "skill-tools-hint" });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, skill ? t("skills.save") : t("skills.create"));
    const fail = (text) => {
      error.textContent = text;
      error.hidden = false;
    };
    const form = h("form", { class: "settings__form settings__dialog-form skills__form", onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      const n = instructions.value.length;
      if (n > MAX_INSTRUCTIONS) {
        fail(t("skills.too_long", { n: count(n), max: count(MAX_INSTRUCTIONS) }));
        instructions.focus();
        return;
      }
      const body = {
        name: name.value.trim(),
        description: description.value.trim(),
        instructions: instructions.value,
        required_tools: [...new Set(tools.value.split(",").map((item) => item.trim()).filter(Boolean))],
      };
      submit.disabled = true;
      try {
        if (skill) await ctx.api.patch(`/api/skills/${encodeURIComponent(skill.id)}`, body);
        else await ctx.api.post("/api/skills", body);
        saved = true;
        ctx.toast(t(skill ? "skills.saved" : "skills.created", { name: body.name }));
        dlg.close();
      } catch (err) {
        fail(errorText(err));
        submit.disabled = false;
      }
    } },
    h("label", { for: "skill-name" }, t("skills.name")), name,
    h("label", { for: "skill-description" }, t("skills.description")), description,
    h("p", { class: "muted settings__hint", id: "skill-description-hint" }, t("skills.description_hint")),
    h("label", { for: "skill-instructions" }, t("skills.instructions")), instructions,
    h("p", { class: "muted settings__hint", id: "skill-instructions-hint" },
      t("skills.instructions_hint", { max: count(MAX_INSTRUCTIONS) })),
    counter,
    h("label", { for: "skill-tools" }, t("skills.tools")), tools,
    h("p", { class: "muted settings__hint", id: "skill-tools-hint" }, t("skills.tools_hint")),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("skills.cancel")),
      submit));
    const dlg = dialog(skill ? t("skills.edit_title", { name: skill.name }) : t("skills.new_title"), form);
    dlg.classList.add("skills__dialog");
    dlg.addEventListener("close", () => resolve(saved));
    name.focus();
  });
}
