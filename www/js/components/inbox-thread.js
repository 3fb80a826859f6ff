// One inbox thread: its messages oldest first, the drafts waiting in it (approve, edit, discard), and
// a reply box that writes a draft. Nothing here sends without a person pressing Approve.

import { h, clear, append, confirmDialog, when } from "../dom.js";
import { errorText } from "../errors.js";
import { senderName, failureText, summaryOf } from "./inbox-text.js";

const OPEN = new Set(["draft", "failed"]);

/** The thread ``key``; ``load()`` fetches (and marks read the first time), ``destroy()`` forgets. */
export function threadView(ctx, key, { channels, people, onClose, onChanged }) {
  const { t } = ctx;
  let alive = true;
  let first = true;
  let data = null;
  const editing = new Map(); // draft id → its open edit form, kept across live refreshes
  const headingId = `thread-${Math.random().toString(36).slice(2)}`;
  const heading = h("h2", { id: headingId, tabindex: "-1", class: "inbox-detail__title" }, t("inbox.loading"));
  const facts = h("p", { class: "muted inbox-detail__facts" });
  const tools = h("div", { class: "inbox-detail__tools" });
  const messages = h("ol", { class: "inbox-messages", "aria-label": t("inbox.messages") });
  const drafts = h("div", { class: "inbox-drafts" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const reply = replyBox();
  const element = h("article", { class: "inbox-thread-view card", "aria-labelledby": headingId },
    h("header", { class: "inbox-detail__head" },
      h("button", { type: "button", class: "link inbox-back", onclick: () => onClose() }, `← ${t("inbox.back")}`),
      heading, facts, tools),
    problem, messages, drafts, reply.element);

  async function load() {
    try {
      const answer = await ctx.api.get("/api/inbox/thread", { key });
      if (!alive) return;
      data = answer;
      paint();
      if (first && answer.messages.some((m) => !m.read)) {
        first = false;
        await ctx.api.post("/api/inbox/thread/mark", { key, read: true });
        for (const m of data.messages) m.read = true;
        onChanged();
      }
      first = false;
    } catch (err) {
      if (!alive) return;
      heading.textContent = t("inbox.thread_gone");
      clear(messages);
      clear(drafts);
      reply.element.hidden = true;
      if (err.status !== 404) {
        problem.textContent = errorText(err);
        problem.hidden = false;
      }
    }
  }

  function paint() {
    problem.hidden = true;
    heading.textContent = data.subject || t("inbox.no_subject");
    const last = data.messages[data.messages.length - 1] || {};
    const contact = people.get(String(data.messages.find((m) => m.contact_id)?.contact_id ?? ""));
    append(clear(facts), [
      channels.get(data.entry_id) || data.domain,
      contact ? [" · ", t("inbox.contact_label"), " ",
        h("a", { href: `#/inbox/contact/${contact.id}` }, contact.name)] : null,
    ]);
    const archived = data.messages.every((m) => m.archived);
    clear(tools).append(
      h("button", { type: "button", onclick: (e) => mark(e.currentTarget, { archived: !archived }) },
        archived ? t("inbox.unarchive") : t("inbox.archive")),
      h("button", { type: "button", onclick: (e) => mark(e.currentTarget, { read: false }) }, t("inbox.mark_unread")));
    clear(messages).append(...data.messages.map(message));
    paintDrafts();
    reply.element.hidden = false;
    reply.setTarget([...data.messages].reverse().find((m) => !m.from_me) || last);
  }

  function message(m) {
    const id = `msg-${m.id}`;
    return h("li", {},
      h("article", { class: `inbox-msg${m.from_me ? " inbox-msg--mine" : ""}`, "aria-labelledby": id },
        h("header", { class: "inbox-msg__head" },
          h("h3", { id, class: "inbox-msg__from" }, senderName(m, t),
            m.sender_address && m.sender && !m.from_me ? [" ", h("span", { class: "muted inbox-msg__address" }, `<${m.sender_address}>`)] : null),
          h("time", { datetime: m.received_at }, when(m.received_at, ctx.lang)),
          m.importance === "high" ? h("span", { class: "badge inbox-badge--high" }, t("inbox.importance_high")) : null,
          m.importance === "low" ? h("span", { class: "badge inbox-badge--low" }, t("inbox.importance_low")) : null),
        summaryOf(m, m.subject) ? h("p", { class: "inbox-msg__summary" },
          h("span", { class: "inbox-msg__label" }, t("inbox.summary_label")), " ", m.summary) : null,
        m.triage === "failed" ? h("p", { class: "muted inbox-msg__triage" }, t("inbox.triage_failed")) : null,
        h("div", { class: "inbox-msg__body" }, m.body || ""),
        m.attachments?.length ? attachmentList(m.attachments) : null));
  }

  /** What came with a message: names and sizes only (the hub never keeps the files). */
  function attachmentList(items) {
    const number = new Intl.NumberFormat(ctx.lang, { maximumFractionDigits: 1 });
    const size = (bytes) => (bytes >= 1048576
      ? t("inbox.size_mb", { n: number.format(bytes / 1048576) })
      : t("inbox.size_kb", { n: number.format(Math.max(1, Math.round(bytes / 1024))) }));
    return h("div", { class: "inbox-msg__attachments" },
      h("span", { class: "inbox-msg__label" }, t("inbox.attachments")), " ",
      h("ul", {}, items.map((a) => h("li", {},
        a.filename || t("inbox.attachment_unnamed"), " ",
        h("span", { class: "muted" }, `(${size(a.size || 0)})`)))));
  }

  // Drafts

  function paintDrafts() {
    const list = [...(data.drafts || [])].sort((a, b) => a.created_at.localeCompare(b.created_at));
    clear(drafts);
    if (!list.length) return;
    drafts.append(h("h3", {}, t("inbox.drafts_title")), ...list.map(draftCard));
  }

  function draftCard(d) {
    const id = `draft-${d.id}`;
    const card = h("article", { class: `inbox-draft inbox-draft--${d.state}`, "aria-labelledby": id, dataset: { draft: d.id } });
    const channel = channels.get(d.entry_id) || d.domain || "";
    const head = h("header", { class: "inbox-draft__head" },
      h("h4", { id }, d.subject || t("inbox.no_subject")),
      h("span", { class: `badge inbox-state--${d.state}`, dataset: { state: d.state } }, t(`inbox.state_${d.state}`)));
    if (editing.has(d.id)) return append(card, [head, editing.get(d.id)]);
    const actions = [];
    if (OPEN.has(d.state) && d.may_approve) {
      actions.push(h("button", { type: "button", class: "primary", onclick: (e) => approve(d, e.currentTarget, card) },
        d.state === "failed" ? t("inbox.approve_again") : t("inbox.approve")));
    }
    if (OPEN.has(d.state)) {
      actions.push(
        h("button", { type: "button", onclick: () => { editing.set(d.id, editForm(d, id)); paintDrafts(); drafts.querySelector(`#${id}-body`)?.focus(); } }, t("inbox.edit")),
        h("button", { type: "button", class: "danger", onclick: (e) => discard(d, e.currentTarget) }, t("inbox.discard")));
    }
    return append(card, [
      head,
      h("p", { class: "muted inbox-draft__facts" },
        t("inbox.to_label"), " ", d.to, d.cc?.length ? ` · ${t("inbox.cc_label")} ${d.cc.join(", ")}` : "",
        " · ", d.author === "agent" || d.author === "triage" ? t("inbox.by_assistant") : t("inbox.by_person"),
        d.state === "sent" && d.sent_at ? ` · ${t("inbox.sent_at", { when: when(d.sent_at, ctx.lang) })}` : ""),
      h("div", { class: "inbox-msg__body" }, d.body),
      d.state === "failed" ? h("p", { class: "error", role: "alert" }, failureText(d, t, channel)) : null,
      d.state === "failed" && d.error ? h("details", { class: "inbox-technical" },
        h("summary", {}, t("inbox.technical_details")), h("p", {}, d.error)) : null,
      OPEN.has(d.state) && !d.may_approve ? h("p", { class: "muted" }, t("inbox.approve_not_yours")) : null,
      OPEN.has(d.state) && d.may_approve ? h("p", { class: "muted inbox-draft__note" }, t("inbox.approve_note", { channel })) : null,
      actions.length ? h("div", { class: "actions" }, actions) : null,
    ]);
  }

  async function approve(d, button, card, confirmResend = false) {
    if (d.interrupted && !confirmResend) {
      const sure = await confirmDialog(t("inbox.resend_question"), t("inbox.resend_confirm"), t("inbox.cancel"), t("inbox.resend_details"));
      if (!sure) return;
      confirmResend = true;
    }
    button.disabled = true;
    const badge = card.querySelector(".badge");
    badge.textContent = t("inbox.state_sending");
    badge.className = "badge inbox-state--sending";
    card.setAttribute("aria-busy", "true");
    try {
      const body = confirmResend ? { confirm_resend: true } : {};
      const done = await ctx.api.post(`/api/drafts/${encodeURIComponent(d.id)}/approve`, body);
      replaceDraft(done);
      ctx.toast(done.state === "sent" ? t("inbox.sent_toast", { to: done.to }) : t("inbox.failed_toast"), done.state === "sent" ? "info" : "error");
    } catch (err) {
      if (err.code === "draft_resend_unconfirmed" && !confirmResend) {
        await load();
        const fresh = data?.drafts?.find((x) => x.id === d.id);
        if (fresh) return approve({ ...fresh, interrupted: true }, button, card);
        return;
      }
      ctx.toast(errorText(err), "error");
      await load();
    } finally {
      card.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }

  function replaceDraft(d) {
    if (!data) return;
    data.drafts = (data.drafts || []).map((x) => (x.id === d.id ? d : x));
    paintDrafts();
    onChanged();
  }

  async function discard(d, button) {
    const sure = await confirmDialog(t("inbox.discard_question"), t("inbox.discard"), t("inbox.cancel"), t("inbox.discard_details"));
    if (!sure) return;
    button.disabled = true;
    try {
      await ctx.api.del(`/api/drafts/${encodeURIComponent(d.id)}`);
      data.drafts = data.drafts.filter((x) => x.id !== d.id);
      paintDrafts();
      ctx.toast(t("inbox.discarded_toast"));
      onChanged();
    } catch (err) {
      button.disabled = false;
      ctx.toast(errorText(err), "error");
    }
  }

  function editForm(d, id) {
    const field = (name, label, attrs, tag = "input") => {
      const input = h(tag, { id: `${id}-${name}`, name, ...attrs });
      return [h("label", { for: input.id }, label), input];
    };
    const [toLabel, to] = field("to", t("inbox.to"), { value: d.to, required: true, autocomplete: "off" });
    const [subjectLabel, subject] = field("subject", t("inbox.subject"), { value: d.subject, autocomplete: "off" });
    const [bodyLabel, body] = field("body", t("inbox.body"), { value: d.body, rows: 8, required: true }, "textarea");
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "primary" }, t("inbox.save"));
    const stop = () => {
      editing.delete(d.id);
      paintDrafts();
    };
    return h("form", { class: "inbox-draft__edit", "aria-label": t("inbox.edit_title"), onsubmit: async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        const changed = await ctx.api.patch(`/api/drafts/${encodeURIComponent(d.id)}`,
          { to: to.value, subject: subject.value, body: body.value });
        editing.delete(d.id);
        replaceDraft(changed);
        ctx.toast(t("inbox.draft_saved_toast"));
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
        save.disabled = false;
      }
    } },
    toLabel, to, subjectLabel, subject, bodyLabel, body, error,
    h("div", { class: "actions" }, h("button", { type: "button", onclick: stop }, t("inbox.cancel")), save));
  }

  // Reply: a draft by hand, in this thread

  function replyBox() {
    let target = null;
    const id = `reply-${headingId}`;
    const label = h("label", { for: id });
    const body = h("textarea", { id, rows: 4, required: true, "aria-describedby": `${id}-note` });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "primary" }, t("inbox.save_draft"));
    const form = h("form", { class: "inbox-reply", hidden: true, onsubmit: async (event) => {
      event.preventDefault();
      if (!target || !body.value.trim()) return;
      save.disabled = true;
      error.hidden = true;
      try {
        const draft = await ctx.api.post("/api/drafts", { in_reply_to: target.id, body: body.value });
        body.value = "";
        if (data) data.drafts = [...(data.drafts || []).filter((x) => x.id !== draft.id), draft];
        paintDrafts();
        ctx.toast(t("inbox.draft_created_toast"));
        onChanged();
        drafts.querySelector(`[data-draft="${CSS.escape(draft.id)}"] button`)?.focus();
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      } finally {
        save.disabled = false;
      }
    } },
    h("h3", {}, t("inbox.reply_title")),
    label, body,
    h("p", { id: `${id}-note`, class: "muted inbox-reply__note" }, t("inbox.reply_note")),
    error, h("div", { class: "actions" }, save));
    return {
      element: form,
      setTarget(m) {
        target = m;
        label.textContent = t("inbox.reply_to", { name: senderName(m, t) });
      },
    };
  }

  async function mark(button, change) {
    button.disabled = true;
    try {
      await ctx.api.post("/api/inbox/thread/mark", { key, ...change });
      if ("archived" in change) ctx.toast(change.archived ? t("inbox.archived_toast") : t("inbox.unarchived_toast"));
      onClose(true);
    } catch (err) {
      button.disabled = false;
      ctx.toast(errorText(err), "error");
    }
  }

  return {
    element,
    load,
    focus: () => heading.focus(),
    destroy() {
      alive = false;
      element.remove();
    },
  };
}
