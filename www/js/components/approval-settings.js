// Settings → Tool approvals: what waits for the person now, a rule per tool (always / ask / never,
// grouped by integration and entry, the default marked, "reset to default"), and the recent decisions.

import { h, clear, when } from "../dom.js";
import { errorText } from "../errors.js";
import { approvalCard, loadNames, sourceText } from "./approval-card.js";

const RULES = ["always", "ask", "never"];
const RECENT = 20;

/** Fill ``section`` (a card with id settings-approvals-section) and keep its pending list live. */
export async function approvalsSection(section, ctx) {
  const { t } = ctx;
  const [tools, pending, decisions, names, people] = await Promise.all([
    ctx.api.get("/api/approvals/tools").catch((err) => ({ error: err })),
    ctx.api.get("/api/approvals/pending").catch(() => ({ pending: [] })),
    ctx.api.get("/api/approvals/decisions", { limit: RECENT }).catch(() => ({ decisions: [] })),
    loadNames(ctx.api),
    ctx.person.is_admin ? ctx.api.get("/api/people").catch(() => ({ people: [] })) : { people: [] },
  ]);
  const who = Object.fromEntries((people.people || []).map((p) => [p.id, p.display_name || p.username]));
  const waiting = h("div", { class: "approvals__pending" });
  const recent = h("div", { class: "approvals__recent" });
  const cards = new Map();

  section.append(
    h("h2", { id: "settings-approvals" }, t("settings.approvals.title")),
    h("p", { class: "muted" }, t("settings.approvals.hint")),
    waiting,
    tools.error
      ? h("p", { class: "error", role: "alert" }, errorText(tools.error))
      : toolGroups(tools.tools || [], names, ctx),
    recent);

  function paintPending(list) {
    const shown = new Set();
    for (const item of list) {
      const id = String(item.id);
      shown.add(id);
      if (cards.has(id)) continue;
      const card = approvalCard(ctx, item, { names, onDecided: () => refreshDecisions() });
      const link = item.conversation_id
        ? h("a", { class: "approval__open", href: `#/chat/${encodeURIComponent(item.conversation_id)}` }, t("settings.approvals.open_chat"))
        : null;
      if (link) card.element.append(link);
      cards.set(id, card);
    }
    for (const [id, card] of cards) {
      // Decided or expired elsewhere: gone from the list (one decided here stays, with its outcome).
      if (!shown.has(id) && card.pending) {
        card.destroy();
        cards.delete(id);
      }
    }
    clear(waiting);
    if (cards.size) {
      waiting.append(h("h3", {}, t("settings.approvals.pending")),
        h("div", { class: "approvals__cards" }, [...cards.values()].map((card) => card.element)));
    }
  }

  async function refreshPending() {
    try {
      paintPending((await ctx.api.get("/api/approvals/pending")).pending || []);
    } catch {
      // The list stays as it was; the next event asks again.
    }
  }

  function paintDecisions(list) {
    clear(recent).append(h("h3", {}, t("settings.approvals.recent")));
    if (!list.length) {
      recent.append(h("p", { class: "muted settings__empty" }, t("settings.approvals.no_decisions")));
      return;
    }
    const decider = (item) => {
      if (!item.decided_by) return t("settings.approvals.nobody");
      if (item.decided_by === ctx.person.id) return t("settings.approvals.you");
      return who[item.decided_by] || item.decided_by;
    };
    recent.append(h("div", { class: "settings__scroll" },
      h("table", { class: "settings__table approvals__decisions", "aria-label": t("settings.approvals.recent") },
        h("thead", {}, h("tr", {},
          h("th", {}, t("settings.approvals.tool")),
          h("th", {}, t("settings.approvals.decision")),
          h("th", {}, t("settings.approvals.decided_by")),
          h("th", {}, t("settings.approvals.when")))),
        h("tbody", {}, list.map((item) => h("tr", {},
          h("td", {}, h("code", {}, String(item.tool ?? "")), h("br"),
            h("span", { class: "muted" }, sourceText(item, names, t))),
          h("td", { class: `approvals__answer approvals__answer--${item.answer}` }, answerText(item.answer, t)),
          h("td", {}, decider(item)),
          h("td", {}, when(asIso(item.decided_at), ctx.lang))))))));
  }

  async function refreshDecisions() {
    try {
      paintDecisions((await ctx.api.get("/api/approvals/decisions", { limit: RECENT })).decisions || []);
    } catch {
      // The table stays as it was.
    }
  }

  paintPending(pending.pending || []);
  paintDecisions(decisions.decisions || []);
  let unsubscribe = null;
  try {
    unsubscribe = await ctx.ws.subscribe("subscribe_events", { event_type: "approval.*" }, () => {
      refreshPending();
      refreshDecisions();
    });
  } catch {
    // No live updates: a reload shows the news.
  }
  return () => {
    unsubscribe?.();
    for (const card of cards.values()) card.destroy();
  };
}

/** The person's tools, one table per integration entry (the hub's own first). */
function toolGroups(tools, names, ctx) {
  const { t } = ctx;
  if (!tools.length) return h("p", { class: "muted settings__empty" }, t("settings.approvals.no_tools"));
  const groups = new Map();
  for (const tool of tools) {
    const key = tool.integration ? `${tool.integration}/${tool.entry_id ?? ""}` : "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(tool);
  }
  const keys = [...groups.keys()].sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
  return h("div", { class: "approvals__groups" }, keys.map((key) => {
    const rows = groups.get(key).sort((a, b) => a.tool.localeCompare(b.tool));
    const title = key ? sourceText(rows[0], names, t) : t("settings.approvals.hub_tools");
    return h("div", { class: "approvals__group" },
      h("h3", {}, title),
      // No side-scrolling on a phone: the rows stack there (approvals.css).
      h("table", { class: "settings__table approvals__tools", "aria-label": title },
        h("thead", {}, h("tr", {},
          h("th", {}, t("settings.approvals.tool")),
          h("th", {}, t("settings.approvals.kind")),
          h("th", {}, t("settings.approvals.rule")),
          h("th", {}, ""))),
        h("tbody", {}, rows.map((row) => toolRow(row, ctx)))));
  }));
}

/** One tool: its kind, the rule select and "reset to default"; both save at once. */
function toolRow(initial, ctx) {
  const { t } = ctx;
  let row = initial;
  const select = h("select", { "aria-label": t("settings.approvals.rule_for", { tool: row.tool }),
    onchange: () => save(select.value) });
  const reset = h("button", { type: "button", class: "link", onclick: () => save(null),
    "aria-label": t("settings.approvals.reset_named", { tool: row.tool }) }, t("settings.approvals.reset"));
  const status = h("span", { class: "approvals__saved muted", role: "status" });
  const kind = h("span", { class: `settings__badge${row.read_only ? "" : " approvals__acting"}` });
  const paint = () => {
    clear(select).append(...RULES.map((rule) => h("option", { value: rule, selected: rule === row.rule },
      rule === row.default ? t("settings.approvals.rule_default", { rule: t(`settings.approvals.rule_${rule}`) })
        : t(`settings.approvals.rule_${rule}`))));
    select.value = row.rule;
    reset.disabled = !row.explicit;
    kind.textContent = t(row.read_only ? "settings.approvals.read_only" : "settings.approvals.acting");
  };
  async function save(rule) {
    select.disabled = true;
    reset.disabled = true;
    status.textContent = "";
    try {
      row = await ctx.api.put(`/api/approvals/rules/${encodeURIComponent(row.tool)}`, { rule });
      status.textContent = t("settings.approvals.saved");
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
    select.disabled = false;
    paint();
  }
  paint();
  return h("tr", { dataset: { tool: row.tool } },
    h("td", {}, h("code", {}, row.tool)),
    h("td", {}, kind),
    h("td", {}, select),
    h("td", {}, h("span", { class: "settings__row-tools" }, reset, status)));
}

function answerText(answer, t) {
  return ["once", "always", "deny", "timeout"].includes(answer) ? t(`settings.approvals.answer_${answer}`) : String(answer ?? "");
}

/** ``when()`` takes an ISO time; the hub may send seconds since the epoch. */
function asIso(value) {
  return typeof value === "number" ? new Date(value * 1000).toISOString() : value;
}
