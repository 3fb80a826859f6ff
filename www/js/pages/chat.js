// Chat: talk to the hub's agent. Conversations on the side, a model and the integrations it may use,
// and the chat panel (components/chat-panel.js). #/chat is a new conversation, #/chat/<id> one.

import { h, append, clear, dialog, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";
import { chatPanel } from "../components/chat-panel.js";
import { modelSelect, integrationPicker } from "../components/chat-options.js";

export const route = "chat";
export const navKey = "chat.nav";

export async function render(root, ctx) {
  const { t } = ctx;
  const wanted = ctx.params.rest ? decodeURIComponent(ctx.params.rest) : null;
  const [models, listed, opened] = await Promise.all([
    ctx.api.get("/api/models").catch((err) => ({ error: err })),
    ctx.api.get("/api/conversations").catch((err) => ({ error: err, conversations: [] })),
    wanted ? ctx.api.get(`/api/conversations/${encodeURIComponent(wanted)}`).catch((err) => {
      if (err.status === 404) return null;
      throw err;
    }) : null,
  ]);
  const modelList = models.models || [];
  let conversations = listed.conversations || [];
  let conv = opened ? withoutItems(opened) : null;
  // What a conversation not created yet will get: the default model, every integration.
  const draft = { model: models.default ?? modelList.find((m) => m.is_default)?.name ?? modelList[0]?.name ?? null, integrations: null };

  const title = h("h1", { class: "chat-page__title" });
  const list = h("ul", { class: "chat-page__list" });
  const setTitle = () => { title.textContent = conv ? titleOf(conv, t) : t("chat.new_chat"); };

  const patch = async (fields) => {
    if (!conv) {
      Object.assign(draft, fields);
      return;
    }
    try {
      conv = withoutItems(await ctx.api.patch(`/api/conversations/${encodeURIComponent(conv.id)}`, fields));
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  };

  const picker = integrationPicker(ctx, conv ? conv.integrations : draft.integrations, (integrations) => patch({ integrations }));
  const current = () => (conv ? conv.model ?? models.default ?? null : draft.model);

  const panel = chatPanel(ctx, {
    label: t("chat.panel"),
    ensureConversation: async () => {
      conv = await ctx.api.post("/api/conversations", { model: draft.model, integrations: draft.integrations });
      history.replaceState(null, "", `#/chat/${encodeURIComponent(conv.id)}`);
      conversations = [conv, ...conversations];
      paintList();
      return conv;
    },
    onRunEnd: () => refreshList(),
  });

  async function refreshList() {
    try {
      conversations = (await ctx.api.get("/api/conversations")).conversations || [];
      if (conv) conv = conversations.find((c) => c.id === conv.id) || conv;
      setTitle();
      paintList();
    } catch {
      // The list stays as it was; the next change tries again.
    }
  }

  function paintList() {
    clear(list);
    const shown = conversations.filter((c) => !c.surface || c.id === conv?.id);
    if (!shown.length) list.append(h("li", { class: "muted chat-page__none" }, t("chat.no_conversations")));
    for (const item of shown) {
      const name = titleOf(item, t);
      list.append(h("li", { class: "chat-page__item" },
        h("a", { href: `#/chat/${encodeURIComponent(item.id)}`, "aria-current": item.id === conv?.id ? "page" : null }, name),
        h("button", { type: "button", class: "link", "aria-label": t("chat.rename_named", { title: name }),
          title: t("chat.rename"), onclick: () => rename(item) }, "✎"),
        h("button", { type: "button", class: "link danger", "aria-label": t("chat.delete_named", { title: name }),
          title: t("chat.delete"), onclick: () => remove(item) }, "✕")));
    }
  }

  function rename(item) {
    const input = h("input", { id: "chat-rename", value: item.title || "", maxlength: 200, required: true });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const form = h("form", { class: "chat-page__form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const saved = await ctx.api.patch(`/api/conversations/${encodeURIComponent(item.id)}`, { title: input.value.trim() });
        if (conv?.id === item.id) conv = withoutItems(saved);
        dlg.close();
        await refreshList();
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      }
    } },
    h("label", { for: "chat-rename" }, t("chat.title_label")), input, error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("chat.cancel")),
      h("button", { type: "submit", class: "primary" }, t("chat.save"))));
    const dlg = dialog(t("chat.rename_title"), form);
    input.select();
  }

  async function remove(item) {
    const name = titleOf(item, t);
    if (!await confirmDialog(t("chat.delete_confirm", { title: name }), t("chat.delete"), t("chat.cancel"), t("chat.delete_details"))) return;
    try {
      await ctx.api.del(`/api/conversations/${encodeURIComponent(item.id)}`);
      ctx.toast(t("chat.deleted", { title: name }));
      if (conv?.id === item.id) {
        ctx.navigate("chat");
        return;
      }
      await refreshList();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  }

  const newChat = () => {
    if (conv) ctx.navigate("chat");
    else {
      if (page.classList.contains("chat-page--list")) toggle.click();
      panel.focus();
    }
  };

  // No model: say so, and where one is added.
  let notice = null;
  if (models.error) {
    notice = h("p", { class: "card chat-page__notice error", role: "alert" }, errorText(models.error));
  } else if (!modelList.length) {
    notice = h("div", { class: "card chat-page__notice" },
      h("p", {}, t("chat.no_model")),
      ctx.person.is_admin
        ? h("p", {}, h("a", { href: "#/settings/models" }, t("chat.no_model_admin")))
        : h("p", {}, t("chat.no_model_member"), " ", h("a", { href: "#/settings/models" }, t("chat.see_models"))));
  }
  panel.setReady(!notice);

  const options = modelList.length
    ? h("div", { class: "chat-options" },
      modelSelect(ctx, modelList, current(), async (name) => {
        await patch({ model: name });
        picker.load(name);
      }),
      picker.element)
    : null;

  setTitle();
  paintList();
  // On a phone the list and the conversation take turns on the screen; this button switches.
  const page = h("div", { class: "chat-page" });
  const toggle = h("button", { type: "button", class: "chat-page__toggle", "aria-controls": "chat-side", "aria-expanded": "false",
    onclick: () => {
      const open = !page.classList.contains("chat-page--list");
      page.classList.toggle("chat-page--list", open);
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? t("chat.back_to_chat") : t("chat.show_conversations");
    } }, t("chat.show_conversations"));
  root.append(h("div", { class: "chat-page__bar" }, toggle), append(page, [
    h("aside", { class: "chat-page__side", id: "chat-side", "aria-label": t("chat.conversations") },
      h("h2", {}, t("chat.conversations")),
      h("button", { type: "button", class: "primary chat-page__new", onclick: newChat }, t("chat.new_chat")),
      listed.error ? h("p", { class: "error", role: "alert" }, errorText(listed.error)) : null,
      list),
    h("div", { class: "chat-page__main" },
      h("header", { class: "chat-page__head" }, title, options),
      wanted && !opened ? h("p", { class: "error", role: "alert" }, t("chat.not_found")) : null,
      notice,
      panel.element)]));
  panel.show(conv, opened?.items || []);
  if (opened?.running) panel.follow(); // still answering (a reload, another tab): wait for it
  if (modelList.length) picker.load(current());
  if (!notice) panel.focus();
  return () => {
    panel.destroy();
    picker.destroy();
  };
}

function withoutItems(conversation) {
  const { items, ...rest } = conversation;
  return rest;
}

function titleOf(conversation, t) {
  return conversation.title || t("chat.untitled");
}
