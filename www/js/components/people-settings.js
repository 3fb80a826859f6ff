// Settings → People (admins only): add a person, edit one (name, language, admin), remove one and
// say what becomes of their own integrations.

import { h, clear, dialog, confirmDialog, passwordsDiffer } from "../dom.js";
import { errorText } from "../errors.js";
import { languages, languageSelect } from "./account-settings.js";

/** Fill ``section`` with the people table and the form that adds one. */
export async function peopleSection(section, ctx) {
  const { t } = ctx;
  const [{ people }, offered] = await Promise.all([ctx.api.get("/api/people"), languages(ctx)]);
  const refill = () => {
    clear(section);
    return peopleSection(section, ctx);
  };
  const admins = people.filter((p) => p.is_admin);
  const remove = async (person) => {
    const query = person.entries
      ? await askEntries(person, admins.filter((p) => p.id !== person.id), ctx)
      : (await confirmDialog(t("settings.person_remove_confirm", { name: person.username }),
        t("settings.person_remove"), t("settings.cancel"), t("settings.person_remove_details"))) && "";
    if (query === null || query === false) return;
    try {
      await ctx.api.del(`/api/people/${encodeURIComponent(person.id)}${query}`);
      ctx.toast(t("settings.person_removed", { name: person.username }));
      await refill();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  };
  const nameOf = (language) => offered.find(({ code }) => code === language)?.name || t("settings.language_browser");
  section.append(
    h("h2", { id: "settings-people" }, t("settings.people")),
    h("div", { class: "settings__scroll" },
      h("table", { class: "settings__table", "aria-label": t("settings.people") },
        h("thead", {}, h("tr", {}, h("th", {}, t("settings.username")), h("th", {}, t("settings.display_name")),
          h("th", {}, t("settings.role")), h("th", {}, t("settings.language")), h("th", {}, t("settings.person_entries")), h("th", {}, ""))),
        h("tbody", {}, people.map((person) => h("tr", {},
          h("td", {}, person.username, person.id === ctx.person.id ? h("span", { class: "settings__badge" }, t("settings.you")) : null),
          h("td", {}, person.display_name || "—"),
          h("td", {}, person.is_admin ? t("settings.admin") : t("settings.member")),
          h("td", {}, nameOf(person.language)),
          h("td", {}, String(person.entries ?? 0)),
          h("td", {}, h("div", { class: "settings__row-tools" },
            h("button", { type: "button", "aria-label": t("settings.person_edit_named", { name: person.username }),
              onclick: () => editPerson(person, offered, ctx, refill) }, t("settings.person_edit")),
            person.id === ctx.person.id ? null
              : h("button", { type: "button", class: "danger", "aria-label": t("settings.person_remove_named", { name: person.username }),
                onclick: () => remove(person) }, t("settings.person_remove"))))))))),
    addForm(ctx, offered, refill));
}

function addForm(ctx, offered, refill) {
  const { t } = ctx;
  const username = h("input", { id: "person-username", required: true, maxlength: 64, autocomplete: "off" });
  const password = h("input", { id: "person-password", type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const again = h("input", { id: "person-password-confirm", type: "password", required: true, autocomplete: "new-password" });
  const displayName = h("input", { id: "person-display-name", maxlength: 100 });
  const language = languageSelect("person-language", offered, "", t);
  const admin = h("input", { id: "person-admin", type: "checkbox" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  return h("form", { class: "settings__form settings__add", "aria-label": t("settings.person_add"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (passwordsDiffer(password, again, error, t("app.password_mismatch"))) return;
    try {
      await ctx.api.post("/api/people", {
        username: username.value.trim(),
        password: password.value,
        password_confirmation: again.value,
        display_name: displayName.value.trim() || null,
        language: language.value || null,
        is_admin: admin.checked,
      });
      ctx.toast(t("settings.person_added", { name: username.value.trim() }));
      await refill();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  } },
  h("h3", {}, t("settings.person_add")),
  h("label", { for: "person-username" }, t("settings.username")), username,
  h("label", { for: "person-password" }, t("settings.password")), password,
  h("label", { for: "person-password-confirm" }, t("settings.password_again")), again,
  h("label", { for: "person-display-name" }, t("settings.display_name")), displayName,
  h("label", { for: "person-language" }, t("settings.language")), language,
  h("label", { class: "settings__check" }, admin, t("settings.admin")),
  error,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("settings.person_add"))));
}

/** Edit a person's display name, language and admin flag in a dialog. */
function editPerson(person, offered, ctx, refill) {
  const { t } = ctx;
  const name = h("input", { id: "person-edit-name", maxlength: 100, value: person.display_name || "" });
  const language = languageSelect("person-edit-language", offered, person.language || "", t);
  const admin = h("input", { id: "person-edit-admin", type: "checkbox", checked: person.is_admin });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "primary" }, t("settings.save"));
  const form = h("form", { class: "settings__form settings__dialog-form", onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    const changes = { display_name: name.value.trim(), language: language.value };
    if (admin.checked !== person.is_admin) changes.is_admin = admin.checked;
    try {
      await ctx.api.patch(`/api/people/${encodeURIComponent(person.id)}`, changes);
      dlg.close();
      ctx.toast(t("settings.person_saved", { name: person.username }));
      if (person.id === ctx.person.id && changes.language !== (person.language || "")) location.reload();
      else await refill();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
      save.disabled = false;
    }
  } },
  h("label", { for: "person-edit-name" }, t("settings.display_name")), name,
  h("label", { for: "person-edit-language" }, t("settings.language")), language,
  h("label", { class: "settings__check" }, admin, t("settings.admin")),
  h("p", { class: "muted settings__hint" }, t("settings.admin_hint")),
  error,
  h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => dlg.close() }, t("settings.cancel")), save));
  const dlg = dialog(t("settings.person_edit_title", { name: person.username }), form);
  name.focus();
}

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
