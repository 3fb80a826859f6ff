// A dashboard's chat view: the chat panel bound to the surface's most recent conversation, or to a
// new one (with ``surface: <slug>``) created by the first message.

import { h } from "../dom.js";
import { chatPanel } from "./chat-panel.js";

/** ``{ element, destroy() }`` for the chat view of surface ``slug``. */
export function surfaceChat(ctx, slug) {
  const { t } = ctx;
  const notice = h("div", { class: "chat__notice", hidden: true });
  const panel = chatPanel(ctx, {
    ensureConversation: () => ctx.api.post("/api/conversations", { surface: slug }),
  });
  const fresh = h("button", { type: "button", class: "chat__new", onclick: () => {
    panel.show(null, []);
    panel.focus();
  } }, t("chat.new_chat"));
  const element = h("div", { class: "chat-view" },
    h("div", { class: "chat-view__tools" }, h("span", { class: "muted" }, t("chat.surface_hint")), fresh),
    notice, panel.element);
  panel.show(null, []);
  panel.setReady(false);

  (async () => {
    try {
      const [models, { conversations }] = await Promise.all([
        ctx.api.get("/api/models"),
        ctx.api.get("/api/conversations", { surface: slug }),
      ]);
      const latest = (conversations || []).filter((c) => c.surface === slug)
        .sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0))[0];
      if (latest && !panel.conversation) {
        const full = await ctx.api.get(`/api/conversations/${encodeURIComponent(latest.id)}`);
        if (!panel.conversation && !panel.running) {
          panel.show(full, full.items || []);
          if (full.running) panel.follow();
        }
      }
      if (!(models.models || []).length) {
        notice.append(h("p", {}, t("chat.no_model"), " ",
          ctx.person.is_admin
            ? h("a", { href: "#/settings/models" }, t("chat.no_model_admin"))
            : t("chat.no_model_member")));
        notice.hidden = false;
        return;
      }
      panel.setReady(true);
    } catch (err) {
      notice.append(h("p", { class: "error", role: "alert" }, err.message));
      notice.hidden = false;
    }
  })();

  return { element, destroy: () => panel.destroy() };
}
