// Config entries: state, health, last sync and failure, the webhook URL, and what can be done.

import { h, clear, confirmDialog, when } from "../dom.js";
import { openFlow } from "../components/flow-form.js";
import { errorText } from "../errors.js";

export const route = "entries";
export const navKey = "wizard.nav_entries";

const STATE_KIND = {
  loaded: "ok",
  not_loaded: "muted",
  setup_retry: "warn",
  setup_error: "error",
  migration_error: "error",
  reauth_required: "warn",
};

export async function render(root, ctx) {
  const { t } = ctx;
  let wizard = null;
  let alive = true;
  let unsubscribe = null;
  let reloadTimer = null;
  let names = {};

  const list = h("ul", { class: "entries", "aria-label": t("wizard.entries_title") });
  const empty = h("p", { class: "muted", hidden: true },
    t("wizard.no_entries"), " ",
    h("a", { href: "#/integrations" }, t("wizard.go_integrations")));
  root.append(
    h("div", { class: "entries-head" },
      h("h1", {}, t("wizard.entries_title")),
      h("a", { class: "button", href: "#/integrations" }, t("wizard.add_integration"))),
    empty,
    list,
  );

  async function reload() {
    const [answer, jobs] = await Promise.all([ctx.api.get("/api/config-entries"), syncJobs(ctx)]);
    if (!alive) return;
    const entries = (answer?.entries || []).slice()
      .sort((a, b) => (a.title || "").localeCompare(b.title || "", ctx.lang));
    // Keep open webhook panels open across a refresh.
    const open = new Set([...list.querySelectorAll("details[open]")].map((el) => el.dataset.entry));
    // A live refresh must not take the keyboard focus away from the button someone is on.
    const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    clear(list).append(...entries.map((entry) => item(entry, open.has(entry.entry_id), jobs)));
    empty.hidden = entries.length > 0;
    if (focused) {
      [...list.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === focused)?.focus();
    }
  }

  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => reload().catch(() => {}), 150);
  }

  function startFlow(path, heading) {
    wizard = openFlow(ctx, () => ctx.api.post(path, { language: ctx.lang }), {
      title: heading,
      onDone: () => reload(),
      successMessage: (result) => t("wizard.entry_updated", { title: result.title || "" }),
    });
  }

  async function act(button, run, success) {
    button.disabled = true;
    try {
      const result = await run();
      if (success) ctx.toast(success(result), "info");
    } catch (err) {
      ctx.toast(errorText(err), "error");
    } finally {
      button.disabled = false;
      await reload().catch(() => {});
    }
  }

  function item(entry, webhookOpen, jobs) {
    const id = encodeURIComponent(entry.entry_id);
    const base = `/api/config-entries/${id}`;
    const headingId = `entry-${entry.entry_id}`;
    const state = entry.disabled ? "disabled" : entry.state;
    const sync = entry.last_sync || null;
    const health = entry.health || null;
    const failure = entry.reason || sync?.error || null;
    // Only admins may read the scheduler; for them an entry without a sync job is push-only.
    const job = jobs?.get(entry.entry_id) || null;
    const pushOnly = jobs !== null && !job && entry.state === "loaded" && !entry.disabled;

    const buttons = [];
    const button = (label, handler, extra = {}) => {
      const el = h("button", {
        type: "button", "aria-label": `${label}: ${entry.title}`, ...extra,
        onclick: () => handler(el),
      }, label);
      buttons.push(el);
      return el;
    };
    if (!pushOnly) {
      button(t("wizard.sync_now"), (el) => act(el, () => ctx.api.post(`${base}/sync`),
        (result) => syncSummary(result?.sync, t)), { disabled: entry.disabled || entry.state !== "loaded" });
    }
    button(t("wizard.reconfigure"), () => startFlow(`${base}/reconfigure`, entry.title));
    if (entry.state === "reauth_required") {
      button(t("wizard.reauth"), () => startFlow(`${base}/reauth`, entry.title), { class: "primary" });
    }
    if (entry.disabled) {
      button(t("wizard.enable"), (el) => act(el, () => ctx.api.post(`${base}/enable`),
        () => t("wizard.enabled_toast", { title: entry.title })));
    } else {
      button(t("wizard.disable"), (el) => act(el, () => ctx.api.post(`${base}/disable`),
        () => t("wizard.disabled_toast", { title: entry.title })));
    }
    button(t("wizard.delete"), async (el) => {
      const sure = await confirmDialog(t("wizard.delete_confirm", { title: entry.title }),
        t("wizard.delete"), t("wizard.cancel"));
      if (sure) await act(el, () => ctx.api.del(base), () => t("wizard.deleted_toast", { title: entry.title }));
    }, { class: "danger" });

    return h("li", {},
      h("article", { class: "card entry", "aria-labelledby": headingId, dataset: { entry: entry.entry_id, state } },
        h("div", { class: "entry-head" },
          h("h2", { id: headingId }, entry.title),
          h("span", { class: `badge state-${STATE_KIND[state] || "muted"}`, dataset: { state } },
            t(`wizard.state_${state}`))),
        h("p", { class: "muted" }, names[entry.domain] || entry.domain,
          entry.scope === "user" ? ` · ${t("wizard.scope_user")}` : null),
        h("dl", { class: "facts" },
          h("dt", {}, t("wizard.health")),
          h("dd", {}, health
            ? [h("span", { class: `health-${health.status}` }, t(`wizard.health_${health.status}`)),
              health.detail ? ` — ${health.detail}` : null]
            : t("wizard.unknown")),
          h("dt", {}, t("wizard.last_sync")),
          h("dd", {}, sync?.at
            ? [when(sync.at, ctx.lang), sync.error ? null : ` — ${syncSummary(sync, t)}`]
            : (pushOnly ? t("wizard.push_only") : t("wizard.never"))),
          job?.next_run ? h("dt", {}, t("wizard.next_sync")) : null,
          job?.next_run ? h("dd", {}, when(job.next_run, ctx.lang)) : null,
          failure ? h("dt", {}, t("wizard.last_error")) : null,
          failure ? h("dd", { class: "error entry-error" }, failure) : null),
        webhook(entry, webhookOpen),
        h("div", { class: "actions" }, buttons)));
  }

  function webhook(entry, isOpen) {
    const output = h("div", { class: "webhook-body" }, h("p", { class: "muted" }, t("wizard.loading")));
    const details = h("details", { class: "webhook", dataset: { entry: entry.entry_id }, open: isOpen },
      h("summary", {}, t("wizard.webhook")), output);
    let loaded = false;
    const load = async () => {
      if (loaded || !details.open) return;
      loaded = true;
      try {
        const info = await ctx.api.get(`/api/config-entries/${encodeURIComponent(entry.entry_id)}/webhook`);
        const url = `${location.origin}${info.path}`;
        const inputId = `webhook-${entry.entry_id}`;
        const field = h("input", { id: inputId, type: "text", readonly: true, value: url, class: "webhook-url" });
        const copy = h("button", {
          type: "button", "aria-label": t("wizard.copy_webhook", { title: entry.title }),
          onclick: () => copyText(url, field).then(
            () => ctx.toast(t("wizard.copied"), "info"),
            () => ctx.toast(t("wizard.copy_failed"), "error")),
        }, t("wizard.copy"));
        clear(output).append(
          h("label", { for: inputId, class: "visually-hidden" }, t("wizard.webhook_url", { title: entry.title })),
          h("div", { class: "webhook-row" }, field, copy),
          h("p", { class: "muted" }, info.signed ? t("wizard.webhook_signed") : t("wizard.webhook_unsigned")));
      } catch (err) {
        loaded = false;
        clear(output).append(h("p", { class: "error" }, errorText(err)));
      }
    };
    details.addEventListener("toggle", load);
    if (isOpen) load();
    return details;
  }

  try {
    const catalog = await ctx.api.get("/api/integrations");
    names = Object.fromEntries((catalog?.integrations || []).map((i) => [i.domain, i.name || i.domain]));
  } catch {
    names = {};
  }
  await reload();

  // Live: any entry event (created, updated, removed, state changed) refreshes the list.
  ctx.ws?.subscribe("subscribe_events", { event_type: "config_entry.*" }, () => reloadSoon())
    .then((stop) => { if (alive) unsubscribe = stop; else stop(); })
    .catch(() => {});

  return () => {
    alive = false;
    clearTimeout(reloadTimer);
    unsubscribe?.();
    wizard?.close();
  };
}

/** Admins: entry id → its sync job (``sync:<entry_id>``); anyone else: null (not known). */
async function syncJobs(ctx) {
  if (!ctx.person?.is_admin) return null;
  try {
    const answer = await ctx.api.get("/api/jobs");
    return new Map((answer?.jobs || []).filter((job) => job.name.startsWith("sync:"))
      .map((job) => [job.name.slice("sync:".length), job]));
  } catch {
    return null;
  }
}

function syncSummary(sync, t) {
  if (!sync || !sync.at) return t("wizard.synced");
  if (sync.error) return sync.error;
  if (sync.skipped) return sync.skipped;
  const changed = ["created", "updated", "deleted", "rejected"].filter((key) => sync[key] > 0)
    .map((key) => t(`wizard.sync_${key}`, { n: sync[key] }));
  return changed.length ? t("wizard.synced_counts", { counts: changed.join(", ") }) : t("wizard.synced_nothing");
}


async function copyText(text, field) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a LAN address has no clipboard API: select the field and use the old command.
  field.focus();
  field.select();
  if (!document.execCommand("copy")) throw new Error("copy failed");
}
