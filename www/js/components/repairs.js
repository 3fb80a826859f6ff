// The Repairs badge in the navigation, beside the bell: how many problems need the person's attention
// (an entry needing new credentials, a full disk, a failed backup, …), and a panel that lists them
// with their fix (the entry's reauth flow, or a link) and, where ignoring is safe, a way to dismiss.
// Kept up to date from `repair.*` bus events over the websocket; the hub words each repair's title
// and text in the person's language.
//
//   const repairs = repairsBadge({ api, ws, t, lang, toast });
//   nav.append(repairs.element); repairs.start(); … repairs.stop();

import { h, clear } from "../dom.js";
import { ApiError } from "../api.js";
import { errorText } from "../errors.js";
import { navIcon, navPanel, paintStatus } from "./nav-panel.js";

const WRENCH = "M22.7 19.3 13.6 10.2a6 6 0 0 0-7.5-7.9l3.6 3.6-2.8 2.8-3.6-3.6a6 6 0 0 0 7.9 7.5l9.1 9.1a1 1 0 0 0 1.4 0l1-1a1 1 0 0 0 0-1.4Z";

/** A fix's link: a place in the web UI, or an http(s) page opened apart. */
function safeHref(href) {
  if (typeof href !== "string") return null;
  if (href.startsWith("#/")) return href;
  return /^https?:\/\//i.test(href) ? href : null;
}

/** The badge; ``start()`` fetches and subscribes, ``stop()`` undoes both. */
export function repairsBadge({ api, ws, t, lang, toast }) {
  let repairs = [];
  let failure = null;

  const count = h("span", { class: "nav__repairs-count", "aria-hidden": "true" });
  const button = h("button", { type: "button", class: "nav__repairs-button", "aria-controls": "repairs-panel" },
    navIcon(WRENCH), count);
  const status = h("p", { class: "muted repairs__empty" });
  const list = h("ul", { class: "repairs__list" });
  const heading = h("h2", { id: "repairs-heading" }, t("ops.repairs"));
  const panel = h("section", { class: "repairs", id: "repairs-panel", "aria-labelledby": "repairs-heading", hidden: true },
    h("div", { class: "repairs__head" }, heading,
      h("button", { type: "button", class: "link", onclick: () => control.close(true) }, t("ops.repairs_close"))),
    status, list);
  const element = h("span", { class: "nav__repairs", hidden: true }, button, panel);

  function paintBadge() {
    const n = repairs.length;
    element.hidden = n === 0 && !control.open;
    count.textContent = n > 99 ? "99+" : String(n);
    const label = n === 1 ? t("ops.repairs_one") : t("ops.repairs_many", { n });
    button.setAttribute("aria-label", label);
    button.title = label;
    element.classList.toggle("nav__repairs--error", repairs.some((item) => item.severity === "error"));
  }

  async function fix(item) {
    const entryId = item.fix?.entry_id || item.entry_id;
    control.close();
    const { openFlow } = await import("./flow-form.js");
    const ctx = { api, t, lang, toast };
    const path = `/api/config-entries/${encodeURIComponent(entryId)}/reauth`;
    openFlow(ctx, (signal) => api.post(path, { language: lang }, { signal }), {
      title: item.title || t("ops.repair_untitled"),
      onDone: () => control.refresh(),
      successMessage: (result, entry) => t("wizard.entry_updated", { title: entry?.title || result.title || "" }),
    });
  }

  async function dismiss(item, title) {
    try {
      await api.post(`/api/repairs/${encodeURIComponent(item.id)}/dismiss`, {});
      repairs = repairs.filter((other) => other.id !== item.id);
      failure = null;
      toast?.(t("ops.repair_dismissed", { title }));
    } catch (err) {
      failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    }
    await control.refresh();
    if (control.open && !repairs.length) heading.focus();
  }

  function row(item) {
    const title = item.title || t("ops.repair_untitled");
    const actions = [];
    const kind = item.fix?.kind;
    if (kind === "reauth" && (item.fix.entry_id || item.entry_id)) {
      actions.push(h("button", { type: "button", class: "primary", "aria-label": t("ops.repair_fix_named", { title }),
        onclick: () => fix(item) }, t("ops.repair_fix")));
    } else if (kind === "link" && safeHref(item.fix.href)) {
      const href = safeHref(item.fix.href);
      const inside = href.startsWith("#/");
      actions.push(h("a", { href, class: "button repairs__open", "aria-label": t("ops.repair_open_named", { title }),
        target: inside ? null : "_blank", rel: inside ? null : "noopener noreferrer",
        onclick: () => { if (inside) control.close(); } }, t("ops.repair_open")));
    }
    if (item.dismissable) {
      actions.push(h("button", { type: "button", class: "link", "aria-label": t("ops.repair_dismiss_named", { title }),
        onclick: () => dismiss(item, title) }, t("ops.repair_dismiss")));
    }
    const severity = item.severity === "error" ? "error" : "warning";
    return h("li", { class: `repair repair--${severity}`, dataset: { id: item.id, key: item.key || "" } },
      h("div", { class: "repair__title" },
        h("span", { class: "visually-hidden" }, `${t(`ops.repair_${severity}`)}: `), title),
      item.text ? h("p", { class: "repair__text" }, item.text) : null,
      actions.length ? h("div", { class: "repair__actions" }, actions) : null);
  }

  function paintList() {
    clear(list);
    list.append(...repairs.map(row));
    paintStatus(status, failure, t("ops.repairs_empty"), repairs.length === 0);
  }

  async function load() {
    const answer = await api.get("/api/repairs");
    repairs = Array.isArray(answer) ? answer : answer?.repairs || [];
    failure = null;
  }

  function paint() {
    paintBadge();
    if (control.open) paintList();
  }

  const control = navPanel({ element, button, panel, heading, ws, eventType: "repair.*", load, paint,
    failed: (err) => {
      if (control.open) failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    },
    onShow: () => {
      const bar = element.closest("nav")?.getBoundingClientRect();
      panel.style.setProperty("--repairs-top", `${Math.round((bar?.bottom ?? 56) + 8)}px`);
    },
    onClose: paintBadge,
    // A click inside a dialog (the reauth flow opened from here) is not a click "outside".
    inside: (target) => Boolean(target.closest?.("dialog")) });
  paintBadge();
  return { element, refresh: control.refresh, start: control.start, stop: control.stop };
}
