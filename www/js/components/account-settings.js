// Settings → Your account: the person's display name and language, their password, and signing out
// of every other device. Every person sees it, admins and members alike.

import { h, confirmDialog, passwordsDiffer } from "../dom.js";
import { LANGUAGES } from "../i18n.js";
import { errorText } from "../errors.js";

/** The languages to offer: the hub's (``GET /api/languages``), else the ones the UI is written in. */
export async function languages(ctx) {
  let offered = [];
  try {
    const answer = await ctx.api.get("/api/languages");
    offered = (answer?.languages || []).filter((item) => item?.code);
  } catch {
    // An older hub: the languages the UI itself is translated into.
  }
  if (!offered.length) offered = Object.keys(LANGUAGES).map((code) => ({ code }));
  return offered.map(({ code, name }) => ({ code, name: LANGUAGES[code] || name || code }));
}

/** A language <select>: "like the browser" (empty) and each language, named in itself. */
export function languageSelect(id, options, current, t) {
  return h("select", { id },
    h("option", { value: "", selected: !current }, t("settings.language_browser")),
    options.map(({ code, name }) => h("option", { value: code, selected: code === current }, name)));
}

/** The "Your account" section. */
export async function accountSection(ctx) {
  const { t } = ctx;
  const me = `/api/people/${encodeURIComponent(ctx.person.id)}`;
  const select = languageSelect("settings-language", await languages(ctx), ctx.person.language || "", t);
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await ctx.api.patch(me, { language: select.value });
      // The shell loads the person's language at start-up; starting again redraws the navigation too.
      location.reload();
    } catch (err) {
      ctx.toast(errorText(err), "error");
      select.disabled = false;
    }
  });
  return h("section", { class: "card settings__section", id: "settings-account-section", "aria-labelledby": "settings-account" },
    h("h2", { id: "settings-account" }, t("settings.account")),
    h("p", { class: "muted" }, t("settings.signed_in_as", { name: ctx.person.username })),
    nameForm(ctx, me),
    h("label", { for: "settings-language" }, t("settings.language")),
    select,
    passwordForm(ctx, me),
    signOutEverywhere(ctx));
}

function nameForm(ctx, me) {
  const { t } = ctx;
  const name = h("input", { id: "settings-display-name", maxlength: 100, autocomplete: "name", value: ctx.person.display_name || "" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const save = h("button", { type: "submit" }, t("settings.save"));
  return h("form", { class: "settings__inline settings__name", "aria-label": t("settings.display_name"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      const saved = await ctx.api.patch(me, { display_name: name.value.trim() });
      ctx.person.display_name = saved.display_name;
      name.value = saved.display_name;
      const who = document.querySelector("#nav .who");
      if (who) who.textContent = saved.display_name;
      ctx.toast(t("settings.name_saved"));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
    save.disabled = false;
  } },
  h("label", { for: "settings-display-name" }, t("settings.display_name")), name, save, error);
}

/** Changing one's own password: the current one, the new one twice; this sign-in goes on. */
function passwordForm(ctx, me) {
  const { t } = ctx;
  const field = (id, label, autocomplete) => {
    const input = h("input", { id, type: "password", required: true, autocomplete, minlength: autocomplete === "new-password" ? 8 : undefined });
    return [input, h("label", { for: id }, label), input];
  };
  const [current, ...currentRow] = field("settings-current-password", t("settings.current_password"), "current-password");
  const [fresh, ...freshRow] = field("settings-new-password", t("settings.new_password"), "new-password");
  const [again, ...againRow] = field("settings-confirm-password", t("settings.confirm_password"), "new-password");
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("settings.password_change"));
  const form = h("form", { class: "settings__form", "aria-label": t("settings.password_change"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (passwordsDiffer(fresh, again, error, t("settings.password_mismatch"))) return;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await ctx.api.patch(me, { password: fresh.value, password_confirmation: again.value, current_password: current.value });
      form.reset();
      ctx.toast(t("settings.password_changed"));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
    submit.disabled = false;
    form.setAttribute("aria-busy", "false");
  } },
  h("h3", {}, t("settings.password_change")),
  currentRow, freshRow, againRow,
  error,
  h("div", { class: "actions" }, submit));
  return form;
}

function signOutEverywhere(ctx) {
  const { t } = ctx;
  const button = h("button", { type: "button", class: "danger", onclick: async () => {
    const sure = await confirmDialog(t("settings.sign_out_everywhere_confirm"), t("settings.sign_out_everywhere"),
      t("settings.cancel"), t("settings.sign_out_everywhere_details"));
    if (!sure) return;
    button.disabled = true;
    try {
      const { signed_out: count } = await ctx.api.post("/api/auth/sign-out-everywhere", { keep_this: true });
      ctx.toast(t(count === 1 ? "settings.signed_out_one" : "settings.signed_out_many", { count }));
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
    button.disabled = false;
  } }, t("settings.sign_out_everywhere"));
  return h("div", { class: "settings__form" },
    h("h3", {}, t("settings.sessions")),
    h("p", { class: "muted settings__hint" }, t("settings.sessions_hint")),
    h("div", { class: "actions" }, button));
}
