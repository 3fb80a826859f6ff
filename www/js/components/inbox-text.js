// The inbox's small words: times, senders, channel titles and why a draft was not sent.

/** A message's time: today only the clock, else the date too, in the person's language. */
export function shortTime(iso, lang) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

/** Who wrote it: the name, else the address; the person themself as "you". */
export function senderName(message, t) {
  if (message.from_me) return t("inbox.me");
  return message.sender || message.sender_address || t("inbox.unknown_sender");
}

/** Triage's one-line summary, unless it only repeats the subject (no model: the rules' fallback). */
export function summaryOf(message, subject) {
  const summary = (message.summary || "").trim();
  return summary && summary !== (subject || "").trim() ? summary : "";
}

/** entry id → the entry's title (GET /api/config-entries). */
export function channelTitles(entries) {
  return new Map(entries.map((entry) => [entry.entry_id, entry.title || entry.domain]));
}

// The hub's reasons for a failed send that the UI words itself; others are "could not be sent",
// with the channel's own text under "technical details".
const FAILURES = {
  "errors.draft_interrupted": "inbox.failure_interrupted",
  "errors.draft_channel_unavailable": "inbox.failure_unavailable",
  "errors.draft_no_sender": "inbox.failure_no_sender",
  "errors.integration_needs_reauth": "inbox.failure_auth",
  "errors.integration_not_ready": "inbox.failure_unreachable",
  "errors.integration_call_timed_out": "inbox.failure_timeout",
  "errors.invalid_fields": "inbox.failure_refused",
};

/** Why a draft failed, in the person's language. */
export function failureText(draft, t, channel) {
  if (draft.error_message) return draft.error_message;
  if (draft.interrupted) return t("inbox.failure_interrupted");
  const key = FAILURES[draft.error_key];
  return key ? t(key, { channel }) : t("inbox.failure_other");
}
