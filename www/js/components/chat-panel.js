// The chat panel: a conversation's transcript, streamed live over the websocket, and its input.
// Used by the chat page and by the chat views of dashboards (components/surface-chat.js).
//
//   const panel = chatPanel(ctx, { ensureConversation, onRunEnd });
//   panel.show(conversation, items);   // null, [] for a conversation not created yet
//   panel.follow();                    // its run is going on elsewhere: wait for it over REST
//   panel.setReady(false);             // no model: the input is disabled
//   root.append(panel.element); … panel.destroy();

import { h, clear } from "../dom.js";
import { renderMarkdown } from "./markdown.js";
import { approvalCard, loadNames } from "./approval-card.js";

const NEAR_BOTTOM = 48;
const POLL_MS = 1500;

/** A chat panel; ``ensureConversation()`` resolves to the conversation to send to (creating it on the
 * first message), ``onRunEnd(conversation)`` is told when a run has finished. */
export function chatPanel(ctx, { ensureConversation, onRunEnd = () => {}, label } = {}) {
  const { t } = ctx;
  let conversation = null;
  let running = false;
  let ready = true;
  let destroyed = false;
  let poll = null; // the timer while following a run this panel does not stream
  let assistant = null; // the assistant bubble text is streaming into: { text, body, frame }
  const calls = new Map(); // call_id → the tool call's row
  const approvals = new Map(); // approval_id → its card (components/approval-card.js)
  let names = null; // the integrations' and entries' names for the approval cards (loadNames)

  const transcript = h("div", { class: "chat__transcript", role: "log", "aria-live": "polite",
    "aria-relevant": "additions", "aria-label": t("chat.transcript"), tabindex: "0" });
  const working = h("p", { class: "chat__working muted", role: "status", hidden: true }, t("chat.working"));
  const input = h("textarea", { class: "chat__input", rows: 2, "aria-label": t("chat.message"),
    placeholder: t("chat.placeholder"), onkeydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!running) send();
      }
    } });
  const button = h("button", { type: "submit", class: "primary chat__send" }, t("chat.send"));
  const form = h("form", { class: "chat__form", "aria-label": t("chat.compose"), onsubmit: (event) => {
    event.preventDefault();
    if (running) cancel();
    else send();
  } }, input, button);
  const element = h("section", { class: "chat", "aria-label": label || t("chat.panel") }, transcript, working, form);

  // ------------------------------------------------------------------------------------ rendering

  const atBottom = () => transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < NEAR_BOTTOM;

  /** Append to the transcript, keeping it scrolled to the end when it was there. */
  function add(node) {
    const follow = atBottom();
    transcript.querySelector(".chat__empty")?.remove();
    transcript.append(node);
    if (follow) transcript.scrollTop = transcript.scrollHeight;
    return node;
  }

  function userBubble(text) {
    return add(h("div", { class: "chat__msg chat__msg--user" },
      h("span", { class: "chat__who" }, t("chat.you")), h("p", { class: "chat__text" }, text)));
  }

  function assistantBubble(text = "") {
    const body = h("div", { class: "chat__body" }, renderMarkdown(text));
    const frame = add(h("div", { class: "chat__msg chat__msg--assistant" },
      h("span", { class: "chat__who" }, t("chat.assistant")), body));
    return { text, body, frame, pending: 0 };
  }

  /** A streamed delta: appended now, the Markdown re-rendered once per animation frame. */
  function delta(text) {
    assistant ??= assistantBubble();
    assistant.text += text;
    if (assistant.pending) return;
    const target = assistant;
    target.pending = requestAnimationFrame(() => {
      target.pending = 0;
      const follow = atBottom();
      clear(target.body).append(renderMarkdown(target.text));
      if (follow) transcript.scrollTop = transcript.scrollHeight;
    });
  }

  function toolCall(item) {
    assistant = null;
    if (item.call_id && calls.get(item.call_id)?.done === false) return; // called again once approved: one row
    const where = item.integration ? ` (${item.integration})` : "";
    const result = h("div", { class: "chat__tool-result" }, h("span", { class: "muted" }, t("chat.tool_running")));
    const row = h("details", { class: "chat__tool", dataset: { callId: String(item.call_id ?? "") } },
      h("summary", {}, toolIcon(), `${item.tool}${where}`),
      h("div", { class: "chat__tool-body" },
        h("p", { class: "chat__tool-label" }, t("chat.tool_args")),
        h("pre", { class: "chat__pre" }, pretty(item.args)),
        result));
    calls.set(item.call_id, { row, result, done: false });
    add(row);
  }

  function toolResult(item) {
    assistant = null;
    let call = calls.get(item.call_id);
    if (!call) { // a result without its call (should not happen): shown on its own
      toolCall({ call_id: item.call_id, tool: item.tool, args: {}, integration: null });
      call = calls.get(item.call_id);
    }
    call.done = true;
    clear(call.result).append(
      h("p", { class: "chat__tool-label" }, item.error ? t("chat.tool_error") : t("chat.tool_result")),
      h("pre", { class: `chat__pre${item.error ? " chat__pre--error" : ""}` }, String(item.content ?? "")));
    call.row.classList.toggle("chat__tool--error", Boolean(item.error));
    call.row.querySelector("summary").append(h("span", { class: item.error ? "error" : "ok" },
      item.error ? ` — ${t("chat.tool_failed")}` : " ✓"));
  }

  /** An `approval_request`: a card with the buttons, until its `approval_decided` arrives. */
  function approvalRequest(entry) {
    assistant = null;
    const id = String(entry.approval_id ?? entry.id ?? "");
    if (!id || approvals.has(id)) return;
    const card = approvalCard(ctx, entry, { onDecided: waiting });
    approvals.set(id, card);
    add(card.element);
    waiting();
    if (names) card.names(names);
    else loadApprovalNames();
  }

  function approvalDecided(entry) {
    const card = approvals.get(String(entry.approval_id ?? ""))
      || [...approvals.values()].find((c) => entry.call_id && c.callId === entry.call_id);
    card?.decided(entry);
  }

  /** While a card waits for the person, the status line says so. */
  function waiting() {
    const open = [...approvals.values()].some((card) => card.pending);
    working.textContent = open ? t("chat.approval.waiting") : t("chat.working");
  }

  /** The names in the person's language, fetched once, when the first card needs them. */
  async function loadApprovalNames() {
    names = { integrations: {}, entries: {} };
    const found = await loadNames(ctx.api);
    if (destroyed) return;
    names = found;
    for (const card of approvals.values()) card.names(names);
  }

  /** A run going on elsewhere (another tab, a reload): its pending approvals of this conversation,
   * so the person can answer here (its stored items arrive only when the run ends). */
  async function pendingOf(id) {
    try {
      const { pending = [] } = await ctx.api.get("/api/approvals/pending");
      if (destroyed || conversation?.id !== id) return;
      for (const entry of pending) if (entry.conversation_id === id) approvalRequest(entry);
    } catch {
      // Not answerable here: the run times out as if nobody had seen it.
    }
  }

  function errorRow(code, message) {
    assistant = null;
    const [text, detail] = errorText(code, message, t);
    add(h("p", { class: "chat__error", role: "alert" }, text,
      detail ? h("span", { class: "chat__error-detail" }, detail) : null,
      code === "no_model" && ctx.person?.is_admin ? [" ", h("a", { href: "#/settings/models" }, t("chat.see_models"))] : null));
  }

  function note(text) {
    assistant = null;
    add(h("p", { class: "chat__note muted" }, text));
  }

  function item(entry) {
    if (entry.kind === "user") userBubble(entry.text ?? "");
    else if (entry.kind === "assistant") { assistant = assistantBubble(entry.text ?? ""); }
    else if (entry.kind === "tool_call") toolCall(entry);
    else if (entry.kind === "tool_result") toolResult(entry);
    else if (entry.kind === "error") errorRow(entry.code, entry.message);
    else if (entry.kind === "approval_request") approvalRequest(entry);
    else if (entry.kind === "approval_decided") approvalDecided(entry);
  }

  // ------------------------------------------------------------------------------------------ runs

  function setRunning(value) {
    running = value;
    working.hidden = !value;
    button.textContent = value ? t("chat.stop") : t("chat.send");
    button.classList.toggle("primary", !value);
    button.classList.toggle("danger", value);
    sync();
  }

  function sync() {
    input.disabled = !ready;
    button.disabled = !ready && !running;
  }

  function event(ev) {
    if (destroyed) return;
    if (ev.kind === "text") delta(String(ev.delta ?? ""));
    else if (ev.kind === "tool_call") toolCall(ev);
    else if (ev.kind === "tool_result") toolResult(ev);
    else if (ev.kind === "approval_request") approvalRequest(ev);
    else if (ev.kind === "approval_decided") approvalDecided(ev);
    else if (ev.kind === "error") {
      errorRow(ev.code, ev.message);
      if (ev.code === "disconnected") { // the run goes on in the hub: its stored turn shows up
        finish(null);
        follow();
      }
    } else if (ev.kind === "done") finish(ev.status);
  }

  function finish(status) {
    if (!running) return;
    if (status === "cancelled") note(t("chat.cancelled"));
    assistant = null;
    for (const card of approvals.values()) card.ended();
    waiting();
    setRunning(false);
    onRunEnd(conversation);
    if (document.activeElement === button || document.activeElement === document.body) input.focus();
  }

  async function send() {
    const text = input.value.trim();
    if (!text || running || !ready) return;
    setRunning(true);
    input.value = "";
    const bubble = userBubble(text);
    try {
      conversation = conversation || await ensureConversation();
      await ctx.ws.stream("chat/send", { conversation_id: conversation.id, text }, event);
    } catch (err) {
      // Refused before it started: the message was not taken; give it back.
      bubble.remove();
      if (!input.value) input.value = text;
      errorRow(err?.code, err?.message);
      setRunning(false);
    }
  }

  /** Wait (over REST) for a run this panel is not streaming, then show the stored conversation. */
  function follow() {
    if (!conversation || destroyed || poll) return;
    setRunning(true);
    const id = conversation.id;
    const tick = async () => {
      try {
        const full = await ctx.api.get(`/api/conversations/${encodeURIComponent(id)}`);
        if (destroyed || conversation?.id !== id) return;
        if (!full.running) {
          poll = null;
          show(full, full.items || []);
          onRunEnd(conversation);
          return;
        }
        await pendingOf(id);
      } catch (err) {
        if (err?.status === 404) { poll = null; setRunning(false); return; }
      }
      if (!destroyed) poll = setTimeout(tick, POLL_MS);
    };
    poll = setTimeout(tick, POLL_MS);
  }

  function show(conv, items = []) {
    clearTimeout(poll);
    poll = null;
    conversation = conv;
    assistant = null;
    calls.clear();
    for (const card of approvals.values()) card.destroy();
    approvals.clear();
    clear(transcript);
    if (running) setRunning(false);
    if (!items.length) transcript.append(h("p", { class: "chat__empty muted" }, t("chat.empty")));
    for (const entry of items) item(entry);
    // A stored turn is over: an approval nobody answered cannot be answered any more.
    for (const card of approvals.values()) card.ended();
    waiting();
    transcript.scrollTop = transcript.scrollHeight;
  }

  async function cancel() {
    if (!conversation) return;
    button.disabled = true;
    try {
      await ctx.ws.command("chat/cancel", { conversation_id: conversation.id });
    } catch (err) {
      errorRow(err?.code, err?.message);
    } finally {
      sync();
    }
  }

  return {
    element,
    /** Show ``conv`` (null: one not created yet) with its stored items. */
    show,
    follow,
    get conversation() { return conversation; },
    get running() { return running; },
    setReady(value) {
      ready = value;
      sync();
    },
    focus() { input.focus(); },
    destroy() {
      destroyed = true;
      clearTimeout(poll);
      for (const card of approvals.values()) card.destroy();
      if (assistant?.pending) cancelAnimationFrame(assistant.pending);
    },
  };
}

function pretty(args) {
  if (args === undefined || args === null) return "{}";
  if (typeof args === "string") return args;
  try {
    return JSON.stringify(args, null, 2);
  } catch {
    return String(args);
  }
}

const KNOWN = ["no_model", "model_unavailable", "model_error", "disconnected", "run_in_progress",
  "conversation_not_found", "internal_error"];
const WITH_DETAIL = ["model_unavailable", "model_error", "internal_error"];

/** ``[text, detail]`` for an error: a known code in the UI's words (with the hub's message as the
 * detail where it tells more), else the hub's message. */
export function errorText(code, message, t) {
  if (!KNOWN.includes(code)) return [message || t("chat.error.unknown"), null];
  return [t(`chat.error.${code}`), WITH_DETAIL.includes(code) && message ? message : null];
}

const SVG = "http://www.w3.org/2000/svg";

/** A wrench drawn as SVG: an emoji would be an empty box where no emoji font is installed. */
function toolIcon() {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({ viewBox: "0 0 24 24", width: "14", height: "14", "aria-hidden": "true",
    class: "chat__tool-icon", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" })) {
    svg.setAttribute(key, value);
  }
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M14.7 6.3a1 1 0 0 0 0 1.4l1.6 1.6a1 1 0 0 0 1.4 0l3.77-3.77a6 6 0 0 1-7.94 7.94l-6.91 6.91a2.12 2.12 0 0 1-3-3l6.91-6.91a6 6 0 0 1 7.94-7.94l-3.76 3.76z");
  svg.append(path);
  return svg;
}
