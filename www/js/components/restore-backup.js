// "Restore from a backup" on a new hub's first page: the backup file and its passphrase or recovery
// key go to POST /api/backups/restore; the hub verifies it, stages it and restarts with it, and this
// page waits (polling /api/health) until the restored hub answers, then reloads into its sign-in.
//
//   form.after(restoreOffer({ t, hide: [form] }));

import { h, clear } from "../dom.js";
import { ApiError } from "../api.js";
import { errorText } from "../errors.js";
import { language } from "../i18n.js";

const POLL_MS = 1000;
const PATIENCE_MS = 60_000;

/** The offer under the onboarding form; opening it hides ``hide`` and shows the restore form. */
export function restoreOffer({ t, hide = [] }) {
  const offer = h("section", { class: "card auth ops__restore-offer", "aria-labelledby": "restore-offer-heading" },
    h("h2", { id: "restore-offer-heading", class: "visually-hidden" }, t("ops.restore_title")),
    h("p", {}, t("ops.restore_offer")),
    h("button", { type: "button", onclick: () => {
      for (const el of [...hide, offer]) el.hidden = true;
      const form = restoreForm({ t, back: () => {
        form.remove();
        for (const el of [...hide, offer]) el.hidden = false;
        hide[0]?.querySelector("input")?.focus();
      } });
      offer.after(form);
      form.querySelector("input")?.focus();
    } }, t("ops.restore_open")));
  return offer;
}

function restoreForm({ t, back }) {
  const file = h("input", { id: "restore-file", name: "file", type: "file", required: true });
  const secret = h("input", { id: "restore-secret", name: "secret", type: "password", required: true,
    autocomplete: "off", spellcheck: "false" });
  const secretLabel = h("label", { for: "restore-secret" }, t("ops.restore_secret_passphrase"));
  const choice = (value, label, checked) => h("label", { class: "settings__check" },
    h("input", { type: "radio", name: "restore-with", value, checked, onchange: () => {
      secretLabel.textContent = t(value === "recovery_key" ? "ops.restore_secret_recovery" : "ops.restore_secret_passphrase");
      secret.type = value === "recovery_key" ? "text" : "password";
      secret.value = "";
    } }), label);
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const status = h("p", { class: "muted", role: "status", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("ops.restore_submit"));
  const form = h("form", { class: "card auth ops__restore", "aria-labelledby": "restore-heading", "aria-busy": "false",
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!file.files?.length) {
        error.textContent = t("ops.restore_no_file");
        error.hidden = false;
        file.focus();
        return;
      }
      const how = form.querySelector("input[name=restore-with]:checked")?.value || "passphrase";
      submit.disabled = true;
      form.setAttribute("aria-busy", "true");
      status.textContent = t("ops.restore_checking");
      status.hidden = false;
      try {
        await upload(file.files[0], how, secret.value);
        waitForRestart(form, t);
      } catch (err) {
        status.hidden = true;
        error.textContent = err instanceof ApiError ? errorText(err) : t("app.failed");
        error.hidden = false;
        submit.disabled = false;
        form.setAttribute("aria-busy", "false");
        secret.focus();
      }
    } },
  h("h1", { id: "restore-heading" }, t("ops.restore_title")),
  h("p", {}, t("ops.restore_hint")),
  h("label", { for: "restore-file" }, t("ops.restore_file")), file,
  h("fieldset", { class: "settings__choices ops__restore-with" }, h("legend", {}, t("ops.restore_with")),
    choice("passphrase", t("ops.restore_with_passphrase"), true),
    choice("recovery_key", t("ops.restore_with_recovery"), false)),
  secretLabel, secret,
  error, status,
  h("div", { class: "actions" },
    h("button", { type: "button", class: "link", onclick: back }, t("ops.restore_back")),
    submit));
  return form;
}

/** Send the backup; resolves once the hub accepted it (and restarts), else rejects with its error. */
async function upload(file, how, secret) {
  const body = new FormData();
  body.append("file", file, file.name);
  body.append(how, secret);
  const resp = await fetch("/api/backups/restore", {
    method: "POST",
    headers: { Accept: "application/json", "Accept-Language": language() },
    body,
  });
  const data = resp.headers.get("Content-Type")?.includes("json") ? await resp.json().catch(() => null) : null;
  if (!resp.ok) throw new ApiError(resp.status, data, resp.headers.get("Retry-After"));
  return data;
}

/** The hub restarts with the restored directory: wait until it is back (gone and answering again,
 * or answering with its restored people), then reload into its sign-in page. */
function waitForRestart(form, t) {
  const message = h("p", { role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }),
    t("ops.restore_restarting"));
  const later = h("p", { class: "muted", hidden: true }, t("ops.restore_still_waiting"));
  clear(form).append(h("h1", { id: "restore-heading" }, t("ops.restore_title")), message, later);
  form.setAttribute("aria-busy", "true");
  const started = Date.now();
  let wentAway = false;
  let firstUptime = null;
  const poll = async () => {
    later.hidden = Date.now() - started < PATIENCE_MS;
    try {
      const resp = await fetch("/api/health", { cache: "no-store" });
      if (!resp.ok) throw new Error(String(resp.status));
      const health = await resp.json();
      const uptime = Number(health.uptime_seconds);
      firstUptime ??= uptime;
      const restarted = wentAway || uptime < firstUptime;
      const onboarding = await fetch("/api/onboarding", { cache: "no-store" }).then((r) => (r.ok ? r.json() : null));
      if (restarted || onboarding?.open === false) {
        location.hash = "";
        location.reload();
        return;
      }
    } catch {
      wentAway = true;
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}
