// Settings → Backups (admins): the stored backups with their sizes and dates, "create now" (with or
// without history), download, delete, the schedule, and the emergency kit: a new recovery key shown
// once. Settings → Diagnostics: the hub-wide diagnostics file.

import { h, clear, dialog, confirmDialog, when } from "../dom.js";
import { errorText } from "../errors.js";
import { download } from "../download.js";

/** ``bytes`` for people: 1.4 MB, 820 KB. */
export function sizeText(bytes, t, lang) {
  const n = Number(bytes) || 0;
  const units = [["size_gb", 1024 ** 3], ["size_mb", 1024 ** 2], ["size_kb", 1024]];
  for (const [key, unit] of units) {
    if (n >= unit) {
      const value = (n / unit).toLocaleString(lang, { maximumFractionDigits: n / unit < 10 ? 1 : 0 });
      return t(`ops.${key}`, { n: value });
    }
  }
  return t("ops.size_bytes", { n: n.toLocaleString(lang) });
}

/** An ISO time or epoch seconds, for people. */
function moment(value, lang) {
  return typeof value === "number" ? new Date(value * 1000).toLocaleString(lang) : when(value, lang);
}

/** Fill ``section`` with the backups, the schedule and the emergency kit. */
export async function backupsSection(section, ctx) {
  const { t } = ctx;
  const refill = () => backupsSection(section, ctx);
  const heading = h("h2", { id: "settings-backups" }, t("ops.backups"));
  let info;
  try {
    let jobs;
    [info, jobs] = await Promise.all([ctx.api.get("/api/backups"), ctx.api.get("/api/jobs").catch(() => null)]);
    // The scheduler's job for automatic backups says when the next one runs.
    info.next_run = (jobs?.jobs || []).find((job) => job.name === "backup")?.next_run || null;
  } catch (err) {
    clear(section).append(heading, h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const backups = (info.backups || []).slice()
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  clear(section).append(
    heading,
    h("p", { class: "muted" }, t("ops.backups_hint")),
    scheduleFacts(info, ctx),
    backups.length ? backupTable(backups, ctx, refill) : h("p", { class: "muted settings__empty" }, t("ops.backups_none")),
    createForm(ctx, refill),
    emergencyKit(info, ctx, refill));
}

function hasRecoveryKey(info) {
  return Boolean(info.recovery_key);
}

function hasPassphrase(info) {
  return Boolean(info.passphrase);
}

function scheduleFacts(info, ctx) {
  const { t } = ctx;
  const schedule = info.schedule || {};
  const hours = Number(schedule.hours ?? 0);
  const keep = schedule.keep ?? 7;
  const locked = hasRecoveryKey(info) || hasPassphrase(info);
  const how = [hasRecoveryKey(info) ? t("ops.lock_recovery") : null, hasPassphrase(info) ? t("ops.lock_passphrase") : null]
    .filter(Boolean).join(", ") || t("ops.lock_none");
  const lines = [];
  if (!locked) lines.push(t("ops.schedule_needs_key"));
  else if (hours > 0) lines.push(t("ops.schedule_every", { hours, keep }));
  else lines.push(t("ops.schedule_off"));
  const next = info.next_run;
  if (locked && hours > 0 && next) lines.push(t("ops.schedule_next", { when: moment(next, ctx.lang) }));
  lines.push(t("ops.locked_with", { how }));
  const recovery = info.recovery_key;
  if (recovery?.fingerprint) {
    lines.push(t("ops.recovery_fingerprint", { fingerprint: recovery.fingerprint, when: moment(recovery.created_at, ctx.lang) }));
  }
  return h("ul", { class: "ops__facts", id: "backup-schedule" }, lines.map((line) => h("li", {}, line)));
}

function backupTable(backups, ctx, refill) {
  const { t } = ctx;
  return h("div", { class: "settings__scroll" },
    h("table", { class: "settings__table ops__backups", "aria-label": t("ops.backups") },
      h("thead", {}, h("tr", {}, h("th", {}, t("ops.backup_name")), h("th", {}, t("ops.backup_created")),
        h("th", {}, t("ops.backup_size")), h("th", {}, t("ops.backup_history")), h("th", {}, ""))),
      h("tbody", {}, backups.map((backup) => backupRow(backup, ctx, refill)))));
}

function backupRow(backup, ctx, refill) {
  const { t } = ctx;
  const path = `/api/backups/${encodeURIComponent(backup.name)}`;
  const save = h("button", { type: "button", "aria-label": t("ops.download_named", { name: backup.name }), onclick: async () => {
    save.disabled = true;
    try {
      await download(path, backup.name);
    } catch (err) {
      ctx.toast(err?.status ? errorText(err) : t("ops.download_failed"), "error");
    } finally {
      save.disabled = false;
    }
  } }, t("ops.download"));
  const remove = h("button", { type: "button", class: "danger", "aria-label": t("ops.delete_named", { name: backup.name }),
    onclick: async () => {
      const sure = await confirmDialog(t("ops.delete_question", { name: backup.name }), t("ops.delete"), t("ops.cancel"),
        t("ops.delete_details"));
      if (!sure) return;
      try {
        await ctx.api.del(path);
        ctx.toast(t("ops.deleted_toast", { name: backup.name }));
        await refill();
      } catch (err) {
        ctx.toast(errorText(err), "error");
      }
    } }, t("ops.delete"));
  return h("tr", { dataset: { backup: backup.name } },
    h("td", { class: "settings__mono" }, backup.name),
    h("td", {}, moment(backup.created_at, ctx.lang)),
    h("td", { class: "ops__size" }, sizeText(backup.size, t, ctx.lang)),
    h("td", {}, backup.include_history ? t("ops.history_included") : t("ops.history_left_out")),
    h("td", {}, h("span", { class: "settings__row-tools" }, save, remove)));
}

function createForm(ctx, refill) {
  const { t } = ctx;
  const history = h("input", { id: "backup-history", type: "checkbox" });
  const status = h("p", { class: "muted", role: "status", hidden: true });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("ops.create_now"));
  const form = h("form", { class: "settings__inline ops__create", "aria-label": t("ops.create_now"), onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    status.textContent = t("ops.creating");
    status.hidden = false;
    form.setAttribute("aria-busy", "true");
    try {
      const made = await ctx.api.post("/api/backups", { include_history: history.checked });
      ctx.toast(t("ops.created_toast", { name: made.name, size: sizeText(made.size, t, ctx.lang) }));
      await refill();
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
      status.hidden = true;
      submit.disabled = false;
      form.setAttribute("aria-busy", "false");
    }
  } },
  h("label", { class: "settings__check" }, history, t("ops.include_history")),
  submit, status, error);
  return form;
}

function emergencyKit(info, ctx, refill) {
  const { t } = ctx;
  const exists = hasRecoveryKey(info);
  const make = h("button", { type: "button", class: exists ? "" : "primary", onclick: async () => {
    if (exists) {
      const sure = await confirmDialog(t("ops.kit_replace_question"), t("ops.kit_make_new"), t("ops.cancel"),
        t("ops.kit_replace_details"));
      if (!sure) return;
    }
    make.disabled = true;
    try {
      const answer = await ctx.api.post("/api/backups/recovery-key", {});
      await showRecoveryKey(answer.recovery_key, ctx);
      await refill();
    } catch (err) {
      ctx.toast(errorText(err), "error");
      make.disabled = false;
    }
  } }, exists ? t("ops.kit_make_new") : t("ops.kit_make"));
  return h("div", { class: "ops__kit" },
    h("h3", { id: "settings-backup-kit" }, t("ops.kit")),
    h("p", { class: "muted" }, t("ops.kit_hint")),
    make);
}

/** The recovery key, this once, with copy and print; resolves when the dialog closes. */
function showRecoveryKey(key, ctx) {
  const { t } = ctx;
  const made = new Date().toLocaleString(ctx.lang);
  const value = h("output", { class: "ops__key settings__mono", id: "recovery-key", "aria-label": t("ops.kit_value") }, key);
  const copied = h("span", { class: "muted", role: "status" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(key);
    } catch {
      // Plain http on a LAN address has no clipboard API: select the key and use the old command.
      const range = document.createRange();
      range.selectNodeContents(value);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    copied.textContent = t("ops.kit_copied");
  };
  // Printing shows only the kit (ops.css hides the rest of the page while this class is on).
  const print = () => {
    document.body.classList.add("ops--printing-kit");
    window.print();
    document.body.classList.remove("ops--printing-kit");
  };
  const dlg = dialog(t("ops.kit_title"),
    h("div", { class: "ops__kit-sheet" },
      h("p", { class: "ops__kit-print-only" }, t("ops.kit_print_heading")),
      h("p", { class: "ops__once", role: "alert" }, t("ops.kit_once")),
      value,
      h("p", { class: "muted" }, t("ops.kit_print_made", { when: made })),
      h("div", { class: "settings__inline ops__kit-tools" },
        h("button", { type: "button", onclick: copy }, t("ops.kit_copy")),
        h("button", { type: "button", onclick: print }, t("ops.kit_print")),
        copied)),
    { actions: [h("button", { type: "button", class: "primary", onclick: () => dlg.close() }, t("ops.kit_done"))] });
  dlg.classList.add("ops__kit-dialog");
  // Escape must not lose the key by accident: closing is the explicit "I have saved it".
  dlg.addEventListener("cancel", (event) => event.preventDefault());
  return new Promise((resolve) => dlg.addEventListener("close", resolve));
}

/** Fill ``section`` with the hub-wide diagnostics download (admins). */
export function diagnosticsSection(section, ctx) {
  const { t } = ctx;
  const button = h("button", { type: "button", onclick: async () => {
    button.disabled = true;
    try {
      await download("/api/diagnostics", "hub-diagnostics.json");
    } catch (err) {
      ctx.toast(err?.status ? errorText(err) : t("ops.download_failed"), "error");
    } finally {
      button.disabled = false;
    }
  } }, t("ops.diagnostics_download"));
  clear(section).append(
    h("h2", { id: "settings-diagnostics" }, t("ops.diagnostics")),
    h("p", { class: "muted" }, t("ops.diagnostics_hint")),
    button);
}
