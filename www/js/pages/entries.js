// Config entries: one clear state each, what its integration does, and what the person may change.

import { h, clear, append, confirmDialog, dialog, when } from "../dom.js";
import { errorText } from "../errors.js";
import { openToolReview } from "../components/tool-review.js";
import { download } from "../download.js";

export const route = "entries";
export const navKey = "wizard.nav_entries";

const STATE_KIND = {
  loaded: "ok",
  not_loaded: "muted",
  setup_retry: "warn",
  setup_error: "error",
  migration_error: "error",
  reauth_required: "warn",
  disabled: "muted",
  health_degraded: "warn",
  health_error: "error",
};

export async function render(root, ctx) {
  const { t } = ctx;
  let wizard = null;
  let alive = true;
  let unsubscribe = null;
  let reloadTimer = null;
  let catalog = {};
  let wanted = decodeURIComponent(ctx.params?.rest || ""); // #/entries/<entry_id>: show that one

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
    const open = new Set([...list.querySelectorAll("details.webhook[open]")].map((el) => el.dataset.entry));
    // A live refresh must not take the keyboard focus away from the button someone is on.
    const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    clear(list).append(...entries.map((entry) => item(entry, open.has(entry.entry_id), jobs)));
    empty.hidden = entries.length > 0;
    if (focused) {
      [...list.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === focused)?.focus();
    }
    if (wanted) {
      const article = [...list.querySelectorAll("article.entry")].find((el) => el.dataset.entry === wanted);
      wanted = "";
      if (article) {
        article.setAttribute("tabindex", "-1");
        article.classList.add("entry-wanted");
        article.scrollIntoView({ block: "center" });
        article.focus();
      }
    }
  }

  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => reload().catch(() => {}), 150);
  }

  async function startFlow(path, heading) {
    const { openFlow } = await import("../components/flow-form.js");
    wizard = openFlow(ctx, (signal) => ctx.api.post(path, { language: ctx.lang }, { signal }), {
      title: heading,
      onDone: () => reload(),
      successMessage: (result, entry) => t("wizard.entry_updated", { title: entry?.title || result.title || "" }),
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

  function rename(entry) {
    const id = `rename-${entry.entry_id}`;
    const input = h("input", { id, type: "text", value: entry.title, maxlength: 100, required: true, autocomplete: "off" });
    const problem = h("p", { class: "error", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "primary" }, t("wizard.save"));
    const cancel = h("button", { type: "button", onclick: () => dlg.close() }, t("wizard.cancel"));
    const form = h("form", { class: "rename-form", onsubmit: async (event) => {
      event.preventDefault();
      save.disabled = true;
      problem.hidden = true;
      try {
        const base = `/api/config-entries/${encodeURIComponent(entry.entry_id)}`;
        const changed = await ctx.api.patch(base, { title: input.value });
        dlg.close();
        ctx.toast(t("wizard.renamed_toast", { title: changed.title }), "info");
        await reload().catch(() => {});
      } catch (err) {
        append(clear(problem), [errorText(err)]);
        problem.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } finally {
        save.disabled = false;
      }
    } },
    h("label", { for: id }, t("wizard.name")), input, problem,
    h("div", { class: "actions" }, cancel, save));
    const dlg = dialog(t("wizard.rename_title", { title: entry.title }), form);
    input.select();
  }

  function item(entry, webhookOpen, jobs) {
    const id = encodeURIComponent(entry.entry_id);
    const base = `/api/config-entries/${id}`;
    const headingId = `entry-${entry.entry_id}`;
    const info = catalog[entry.domain] || {};
    // Unknown features (an integration gone from the catalog) are shown as before: all of them.
    const does = info.features || { webhooks: true, health: true, pulls: true };
    // A message account's "sync" pulls its new messages into the inbox.
    const pulls = does.pulls || does.messages;
    const manage = entry.can_manage !== false;
    const state = shownState(entry);
    const sync = entry.last_sync || null;
    const health = entry.health || null;
    const job = jobs?.get(entry.entry_id) || null;

    const buttons = [];
    const button = (label, handler, extra = {}) => {
      const el = h("button", {
        type: "button", "aria-label": `${label}: ${entry.title}`, ...extra,
        onclick: () => handler(el),
      }, label);
      buttons.push(el);
      return el;
    };
    if (manage) {
      if (pulls) {
        button(t("wizard.sync_now"), (el) => act(el, () => ctx.api.post(`${base}/sync`),
          (result) => (result?.sync?.error
            ? t("wizard.sync_failed_toast", { title: entry.title })
            : syncSummary(result?.sync, t))), { disabled: entry.disabled || entry.state !== "loaded" });
      }
      button(t("wizard.rename"), () => rename(entry));
      button(t("ops.diagnostics_entry"), (el) => act(el, () => download(`${base}/diagnostics`,
        `diagnostics-${entry.domain}.json`)));
      if (info.config_flow !== false) {
        button(t("wizard.reconfigure"), () => startFlow(`${base}/reconfigure`, entry.title));
      }
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
        const sure = await confirmDialog(t("wizard.delete_question", { title: entry.title }),
          t("wizard.delete"), t("wizard.cancel"), t("wizard.delete_details"));
        if (sure) await act(el, () => ctx.api.del(base), () => t("wizard.deleted_toast", { title: entry.title }));
      }, { class: "danger" });
    }

    const facts = [];
    const fact = (label, value, attrs = {}) => facts.push(h("dt", {}, label), h("dd", attrs, value));
    const problem = explanation(entry, t);
    if (problem) fact(t("wizard.problem"), problem, { class: "entry-problem" });
    if (does.health && health && entry.state === "loaded" && !entry.disabled) {
      fact(t("wizard.health"), [h("span", { class: `health-${health.status}` }, t(`wizard.health_${health.status}`)),
        health.detail ? ` — ${health.detail}` : null]);
    }
    if (entry.tool_review) {
      fact(t("wizard.tool_review"), [t("wizard.tool_review_count", { count: entry.tool_review }), " ",
        h("button", { type: "button", onclick: () => openToolReview(ctx, entry, () => reload().catch(() => {})) },
          t("wizard.tool_review_open"))], { class: "entry-problem" });
    }
    if (does.listens && entry.listener && !entry.disabled) {
      fact(t("wizard.listener"), listenerText(entry.listener, t, ctx.lang),
        { class: `listener-${entry.listener.state}` });
    }
    if (pulls) {
      fact(t("wizard.last_sync"), sync?.at
        ? [when(sync.at, ctx.lang), sync.error ? ` — ${t("wizard.sync_failed")}` : ` — ${syncSummary(sync, t)}`]
        : t("wizard.never"));
      if (job?.next_run) fact(t("wizard.next_sync"), when(job.next_run, ctx.lang));
    } else if (does.webhooks) {
      fact(t("wizard.updates"), t("wizard.push_only"));
    }
    const technical = entry.reason || sync?.error || null;

    return h("li", {},
      h("article", { class: "card entry", "aria-labelledby": headingId, dataset: { entry: entry.entry_id, state } },
        h("div", { class: "entry-head" },
          h("h2", { id: headingId }, entry.title),
          h("span", { class: `badge state-${STATE_KIND[state] || "muted"}`, dataset: { state } },
            t(`wizard.state_${state}`))),
        h("p", { class: "muted" }, info.name || entry.domain,
          entry.scope === "user" ? ` · ${t("wizard.scope_user")}` : ` · ${t("wizard.scope_global")}`,
          manage ? null : ` · ${t("wizard.read_only")}`),
        facts.length ? h("dl", { class: "facts" }, facts) : null,
        technical && manage
          ? h("details", { class: "entry-technical" }, h("summary", {}, t("wizard.technical_details")),
            h("p", { class: "entry-error" }, technical))
          : null,
        does.webhooks && manage ? webhook(entry, webhookOpen) : null,
        buttons.length ? h("div", { class: "actions" }, buttons) : null));
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
        append(clear(output), [
          h("label", { for: inputId, class: "visually-hidden" }, t("wizard.webhook_url", { title: entry.title })),
          h("div", { class: "webhook-row" }, field, copy),
          h("p", { class: "muted" }, info.scheme && info.scheme !== "hub"
            ? t("wizard.webhook_signed_scheme", { scheme: t(`wizard.webhook_scheme_${info.scheme}`) })
            : info.signed ? t("wizard.webhook_signed") : t("wizard.webhook_unsigned"))]);
        if (entry.domain === "webhook") {
          const { webhookSettings } = await import("../components/webhook-settings.js");
          output.append(webhookSettings(ctx, entry));
        }
      } catch (err) {
        loaded = false;
        append(clear(output), [h("p", { class: "error" }, errorText(err))]);
      }
    };
    details.addEventListener("toggle", load);
    if (isOpen) load();
    return details;
  }

  try {
    const answer = await ctx.api.get("/api/integrations");
    catalog = Object.fromEntries((answer?.integrations || []).map((i) => [i.domain, i]));
  } catch {
    catalog = {};
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

/** The one state an entry's badge says: off, not working (and why), or working (and how well). */
function shownState(entry) {
  if (entry.disabled) return "disabled";
  if (entry.state !== "loaded") return entry.state;
  const health = entry.health?.status;
  if (health === "degraded" || health === "error") return `health_${health}`;
  // A message account whose listener lost its connection is limited until it is back.
  return entry.listener?.state === "backing_off" ? "health_degraded" : "loaded";
}

/** A sentence for a person about what is wrong; the technical reason stays in a disclosure. */
function explanation(entry, t) {
  if (entry.disabled || entry.state === "loaded" || entry.state === "not_loaded") return null;
  const key = `wizard.explain_${entry.state}`;
  const text = t(key);
  return text === key ? null : text;
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

/** A message listener's state: running, or why it is waiting and when it tries again. */
function listenerText(listener, t, lang) {
  const parts = [t(`wizard.listener_${listener.state}`)];
  if (listener.state === "backing_off" && listener.retry_at) {
    parts.push(t("wizard.listener_retry", { when: when(listener.retry_at, lang) }));
  }
  if (listener.restarts > 0) parts.push(t("wizard.listener_restarts", { n: listener.restarts }));
  return parts.join(" · ");
}

function syncSummary(sync, t) {
  if (!sync || !sync.at) return t("wizard.synced");
  if (sync.error) return t("wizard.sync_failed");
  if (sync.skipped) return t("wizard.sync_skipped");
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
