// A notice in the navigation while the agent waits for the person's approval, wherever they are:
// kept up to date from the person's `approval.*` bus events over the websocket, and linking to the
// conversation that waits (or to Settings → Tool approvals, which lists every pending approval).
//
//   const notice = approvalNotice({ api, ws, t });
//   nav.append(notice.element); notice.start(); … notice.stop();

import { h } from "../dom.js";
import { deadline } from "./approval-card.js";

/** The notice; ``start()`` fetches and subscribes, ``stop()`` undoes both. */
export function approvalNotice({ api, ws, t }) {
  let pending = [];
  let unsubscribe = null;
  let stopped = false;
  let expiry = null; // the timer that hides an approval once it has expired
  let asking = null; // the refresh in flight, so a burst of events asks once at a time
  let again = false;

  const count = h("span", { class: "nav__approvals-count", "aria-hidden": "true" });
  const label = h("span", { class: "nav__approvals-label" });
  const element = h("a", { class: "nav__approvals", hidden: true, href: "#/settings/approvals" }, count, label);

  function paint() {
    const now = Date.now();
    const open = pending.filter((item) => (deadline(item.expires_at) ?? Infinity) > now);
    element.hidden = !open.length;
    if (!open.length) return;
    count.textContent = String(open.length);
    const text = t(open.length === 1 ? "app.approvals_one" : "app.approvals_many", { n: open.length });
    label.textContent = text;
    element.setAttribute("aria-label", text);
    element.title = text;
    // One waiting in a chat: straight to its conversation; otherwise the list in Settings.
    const [first] = open;
    element.href = open.length === 1 && first.conversation_id
      ? `#/chat/${encodeURIComponent(first.conversation_id)}`
      : "#/settings/approvals";
    clearTimeout(expiry);
    const next = Math.min(...open.map((item) => deadline(item.expires_at) ?? Infinity));
    if (Number.isFinite(next)) expiry = setTimeout(paint, Math.max(0, next - now) + 250);
  }

  async function refresh() {
    if (asking) {
      again = true;
      return asking;
    }
    asking = (async () => {
      do {
        again = false;
        try {
          pending = (await api.get("/api/approvals/pending")).pending || [];
        } catch {
          // Left as it was: the next event asks again.
        }
      } while (again && !stopped);
      asking = null;
      if (!stopped) paint();
    })();
    return asking;
  }

  return {
    element,
    refresh,
    async start() {
      const first = refresh();
      try {
        const off = await ws.subscribe("subscribe_events", { event_type: "approval.*" }, () => refresh());
        if (stopped) off();
        else unsubscribe = off;
        refresh(); // what arrived before the subscription took hold
      } catch {
        // No live updates: the notice still shows what was pending at sign-in.
      }
      await first;
    },
    stop() {
      stopped = true;
      clearTimeout(expiry);
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}
