// An approval the agent waits for: the tool, where it comes from, its arguments in a readable form,
// the time left, and Approve once / Always / Deny (POST /api/approvals/{id}). Used by the chat panel
// (from `approval_request` items) and by Settings → Tool approvals (from GET /api/approvals/pending).
//
//   const card = approvalCard(ctx, request, { names: await loadNames(ctx.api) });
//   root.append(card.element);
//   card.decided({ answer: "once", decided_by });   // an `approval_decided` item, or the POST's answer
//   card.ended();                                    // the run is over and nobody answered

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";

const LONG = 160; // characters of a value shown before it is folded
const LONG_LINES = 8; // lines of pretty JSON shown before it is folded
const PREVIEW = 60;
const ANSWERS = ["once", "always", "deny"];
const WHOLE = ["_truncated", "_text", "_value"]; // hub/agent/approvals.py's stand-ins for arguments

let unique = 0;

/** A card for ``request`` (an `approval_request` item or a pending row); ``names`` from
 * ``loadNames``; ``onDecided(answer)`` is told once it is decided. */
export function approvalCard(ctx, request, { names = NO_NAMES, onDecided = () => {} } = {}) {
  const { t } = ctx;
  const id = String(request.approval_id ?? request.id ?? "");
  const titleId = `approval-${++unique}`;
  const expires = deadline(request.expires_at);
  let outcome = null;
  let timer = null;

  const source = h("span", { class: "approval__from" }, sourceText(request, names, t));
  const left = h("p", { class: "approval__left muted" });
  const status = h("p", { class: "approval__status", role: "status" });
  const buttons = ANSWERS.map((answer) => h("button", { type: "button", class: buttonClass(answer),
    dataset: { answer }, onclick: () => answerWith(answer) }, t(`chat.approval.${answer}`)));
  const actions = h("div", { class: "approval__actions" }, buttons);
  const element = h("section", { class: "approval", "aria-labelledby": titleId, dataset: { approvalId: id } },
    h("h3", { class: "approval__title", id: titleId }, t("chat.approval.title", { tool: request.tool ?? "" })),
    h("p", { class: "approval__source" },
      h("code", { class: "approval__tool" }, String(request.tool ?? "")),
      " · ", source,
      h("span", { class: `approval__kind${request.read_only ? "" : " approval__kind--acting"}` },
        t(request.read_only ? "chat.approval.read_only" : "chat.approval.acting"))),
    h("p", { class: "approval__label" }, t("chat.approval.args")),
    readableArgs(request.args, t),
    left, status, actions);

  async function answerWith(answer) {
    if (outcome) return;
    setBusy(true);
    try {
      const { decision } = await ctx.api.post(`/api/approvals/${encodeURIComponent(id)}`, { answer });
      decided({ answer: decision?.answer ?? answer, decided_by: decision?.decided_by ?? ctx.person?.id });
    } catch (err) {
      setBusy(false);
      if (err?.status === 409 || err?.status === 404) {
        // Decided elsewhere or too late: its outcome arrives with the run; until then, say why.
        settle(null, errorText(err));
      } else {
        status.textContent = errorText(err);
        status.classList.add("error");
      }
    }
  }

  function setBusy(busy) {
    for (const button of buttons) button.disabled = busy;
    element.setAttribute("aria-busy", String(busy));
  }

  /** Show the outcome and take the buttons away. */
  function settle(answer, text) {
    stop();
    outcome = answer ?? outcome ?? "closed";
    element.removeAttribute("aria-busy");
    element.dataset.outcome = outcome;
    actions.remove();
    left.remove();
    status.classList.toggle("error", outcome === "deny" || outcome === "timeout");
    status.textContent = text;
  }

  /** The decision (an `approval_decided` item or the POST's answer). */
  function decided(decision) {
    if (decision?.answer === "withdrawn") { // the run stopped while it waited
      if (!outcome) settle("closed", t("chat.approval.ended"));
      return;
    }
    const answer = ANSWERS.includes(decision?.answer) || decision?.answer === "timeout" ? decision.answer : "deny";
    if (outcome === answer) return;
    let text = t(`chat.approval.outcome_${answer}`);
    if (answer !== "timeout" && decision?.decided_by) {
      text += ` ${decision.decided_by === ctx.person?.id ? t("chat.approval.by_you") : t("chat.approval.by_other")}`;
    }
    settle(answer, text);
    onDecided(answer);
  }

  function tick() {
    if (outcome) return;
    if (timer && !element.isConnected) { stop(); return; }
    if (expires === null) { left.textContent = ""; return; }
    const seconds = Math.ceil((expires - Date.now()) / 1000);
    if (seconds <= 0) {
      // The hub denies it at the same moment; its `approval_decided` says so too.
      decided({ answer: "timeout" });
      return;
    }
    left.textContent = t("chat.approval.left", { time: clock(seconds) });
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  tick();
  if (!outcome && expires !== null) timer = setInterval(tick, 1000);

  return {
    element,
    id,
    callId: request.call_id ?? null,
    get pending() { return !outcome; },
    decided,
    /** Name the integration and entry in the person's language (``loadNames``' answer). */
    names(found) { source.textContent = sourceText(request, found, t); },
    /** The run ended and nobody answered (a stored conversation): no buttons any more. */
    ended() {
      if (!outcome) settle("closed", t("chat.approval.ended"));
    },
    destroy: stop,
  };
}

function buttonClass(answer) {
  if (answer === "once") return "primary";
  if (answer === "deny") return "danger";
  return "";
}

const NO_NAMES = { integrations: {}, entries: {} };

/** ``{integrations: domain → name, entries: entry id → title}`` in the person's language: an
 * entry still titled as set up is titled in their language (an approval carries the stored title). */
export async function loadNames(api) {
  const [catalog, entries] = await Promise.all([
    api.get("/api/integrations").catch(() => ({ integrations: [] })),
    api.get("/api/config-entries").catch(() => ({ entries: [] })),
  ]);
  return {
    integrations: Object.fromEntries((catalog.integrations || []).map((i) => [i.domain, i.name || i.domain])),
    entries: Object.fromEntries((entries.entries || []).map((e) => [e.entry_id, e.title])),
  };
}

/** "OpenProject — Work" / "the hub itself": the integration's name and the entry's title. */
export function sourceText(request, names, t) {
  if (!request.integration) return t("chat.approval.hub");
  const name = names.integrations?.[request.integration] || request.integration;
  const title = names.entries?.[request.entry_id] || request.entry_title;
  return title && title !== name ? `${name} — ${title}` : name;
}

/** Milliseconds since the epoch of an ISO time or of seconds since the epoch; null when unknown. */
export function deadline(value) {
  if (typeof value === "number" && Number.isFinite(value)) return value > 1e12 ? value : value * 1000;
  if (typeof value !== "string" || !value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  if (minutes < 60) return `${minutes}:${rest}`;
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}:${rest}`;
}

// ------------------------------------------------------------------------------------- arguments

/** The arguments as "key: value" lines; a long value folded, an object as pretty JSON; all text. */
export function readableArgs(args, t) {
  let value = args;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return h("div", { class: "approval__args" }, valueNode(value));
    }
  }
  if (value === null || value === undefined) return h("p", { class: "approval__args muted" }, t("chat.approval.no_args"));
  if (typeof value !== "object" || Array.isArray(value)) return h("div", { class: "approval__args" }, valueNode(value));
  const entries = Object.entries(value);
  // The hub cut or could not parse them: the text alone, no made-up key.
  if (entries.length === 1 && WHOLE.includes(entries[0][0])) return h("div", { class: "approval__args" }, valueNode(entries[0][1]));
  if (!entries.length) return h("p", { class: "approval__args muted" }, t("chat.approval.no_args"));
  return h("dl", { class: "approval__args" }, entries.map(([key, item]) => h("div", { class: "approval__arg" },
    h("dt", {}, `${key}:`), h("dd", {}, valueNode(item)))));
}

function valueNode(value) {
  if (typeof value === "string") {
    if (value.length <= LONG && !value.includes("\n")) return h("span", { class: "approval__value" }, value);
    return folded(value, value);
  }
  if (value !== null && typeof value === "object") {
    let json;
    try {
      json = JSON.stringify(value, null, 2);
    } catch {
      json = String(value);
    }
    if (json.length <= LONG && json.split("\n").length <= LONG_LINES) return h("pre", { class: "approval__json" }, json);
    return folded(JSON.stringify(value) ?? json, json, "approval__json");
  }
  return h("span", { class: "approval__value approval__value--plain" }, String(value));
}

function folded(preview, full, preClass = "approval__long") {
  const line = preview.replace(/\s+/g, " ").trim();
  return h("details", { class: "approval__fold" },
    h("summary", {}, line.length > PREVIEW ? `${line.slice(0, PREVIEW)}…` : line),
    h("pre", { class: preClass }, full));
}
