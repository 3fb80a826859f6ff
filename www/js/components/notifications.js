// The bell in the navigation: the count of the person's unread notifications, and a panel that lists
// them (mark one or all read, delete, follow a link). Kept up to date from the person's
// `notification.*` bus events over the websocket, wherever they are in the UI.
//
//   const bell = notificationBell({ api, ws, t, lang });
//   nav.append(bell.element); bell.start(); … bell.stop();

import { h, clear } from "../dom.js";
import { ApiError } from "../api.js";
import { errorText } from "../errors.js";
import { shortTime } from "./inbox-text.js";
import { navIcon, navPanel, paintStatus } from "./nav-panel.js";

const PAGE = 50;
const BELL = "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z";

/** Only a place in the web UI is followed (the hub sends nothing else; this keeps it so). */
function safeLink(link) {
  return typeof link === "string" && link.startsWith("#/") ? link : null;
}

/** The bell; ``start()`` fetches and subscribes, ``stop()`` undoes both. */
export function notificationBell({ api, ws, t, lang }) {
  let unread = 0;
  let items = [];
  let next = null;
  let failure = null;

  const count = h("span", { class: "nav__bell-count", "aria-hidden": "true", hidden: true });
  const button = h("button", { type: "button", class: "nav__bell-button", "aria-controls": "notifications-panel" },
    navIcon(BELL), count);
  const status = h("p", { class: "muted notifications__empty" });
  const list = h("ul", { class: "notifications__list" });
  const more = h("button", { type: "button", class: "link notifications__more", hidden: true, onclick: older },
    t("notifications.more"));
  const markAll = h("button", { type: "button", class: "link", onclick: () => markRead(null) },
    t("notifications.mark_all_read"));
  const heading = h("h2", { id: "notifications-heading" }, t("notifications.title"));
  const panel = h("section", { class: "notifications", id: "notifications-panel", "aria-labelledby": "notifications-heading",
    hidden: true },
  h("div", { class: "notifications__head" }, heading, markAll,
    h("button", { type: "button", class: "link", onclick: () => control.close(true) }, t("notifications.close"))),
  status, list, more);
  const element = h("span", { class: "nav__bell" }, button, panel);

  function paintBadge() {
    count.hidden = unread === 0;
    count.textContent = unread > 99 ? "99+" : String(unread);
    const label = unread ? t("notifications.bell_unread", { n: unread }) : t("notifications.bell");
    button.setAttribute("aria-label", label);
    button.title = label;
    markAll.disabled = unread === 0;
  }

  function row(item) {
    const link = safeLink(item.link);
    const title = item.title || t("notifications.untitled");
    const actions = [];
    if (link) {
      actions.push(h("a", { href: link, class: "notifications__open", "aria-label": t("notifications.open_of", { title }),
        onclick: () => {
          if (!item.read) markRead([item.id]);
          control.close();
        } }, t("notifications.open")));
    }
    if (!item.read) {
      actions.push(h("button", { type: "button", class: "link", "aria-label": t("notifications.mark_read_of", { title }),
        onclick: () => markRead([item.id]) }, t("notifications.mark_read")));
    }
    actions.push(h("button", { type: "button", class: "link danger", "aria-label": t("notifications.delete_of", { title }),
      onclick: () => remove(item.id) }, t("notifications.delete")));
    return h("li", { class: `notification${item.read ? "" : " notification--unread"}`, dataset: { id: item.id } },
      h("div", { class: "notification__title" },
        item.read ? null : h("span", { class: "visually-hidden" }, `${t("notifications.unread")}: `), title),
      item.message ? h("p", { class: "notification__message" }, item.message) : null,
      h("div", { class: "notification__meta" },
        h("time", { datetime: item.created_at, class: "muted" }, shortTime(item.created_at, lang)),
        h("span", { class: "notification__actions" }, actions)));
  }

  function paintList() {
    clear(list);
    list.append(...items.map(row));
    more.hidden = !next;
    paintStatus(status, failure, t("notifications.empty"), items.length === 0);
  }

  async function load() {
    // Keeps as many as were shown (older pages included), so a live update does not shorten the list.
    const open = control.open;
    const limit = open ? Math.min(200, Math.max(PAGE, items.length)) : 1;
    const page = await api.get("/api/notifications", { limit });
    unread = page.unread;
    if (open) {
      items = page.notifications;
      next = page.next;
    }
    failure = null;
  }

  async function older() {
    if (!next) return;
    try {
      const page = await api.get("/api/notifications", { limit: PAGE, before: next });
      const known = new Set(items.map((item) => item.id));
      items = items.concat(page.notifications.filter((item) => !known.has(item.id)));
      next = page.next;
      unread = page.unread;
      failure = null;
    } catch (err) {
      failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    }
    paintBadge();
    paintList();
  }

  async function markRead(ids) {
    try {
      const answer = await api.post("/api/notifications/read", ids ? { ids } : {});
      unread = answer.unread;
      const marked = ids ? new Set(ids) : null;
      items = items.map((item) => (!marked || marked.has(item.id) ? { ...item, read: true } : item));
      failure = null;
    } catch (err) {
      failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    }
    paint();
  }

  async function remove(id) {
    try {
      await api.del(`/api/notifications/${encodeURIComponent(id)}`);
      items = items.filter((item) => item.id !== id);
      failure = null;
    } catch (err) {
      failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    }
    await control.refresh();
  }

  function paint() {
    paintBadge();
    if (control.open) paintList();
  }

  const control = navPanel({ element, button, panel, heading, ws, eventType: "notification.*", load, paint,
    failed: (err) => {
      if (control.open) failure = err instanceof ApiError ? errorText(err) : t("app.failed");
    } });
  paintBadge();
  return { element, refresh: control.refresh, start: control.start, stop: control.stop };
}
