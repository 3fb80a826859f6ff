// Inbox: every channel's messages as threads, newest first, and one thread beside the list (below it
// on a phone). #/inbox/t/<key> opens a thread, #/inbox/contact/<id> filters by a contact,
// #/inbox/contacts and #/inbox/rules are the contacts and the triage rules.

import { h, clear, append } from "../dom.js";
import { errorText } from "../errors.js";
import { threadView } from "../components/inbox-thread.js";
import { shortTime, senderName, channelTitles, summaryOf } from "../components/inbox-text.js";

export const route = "inbox";
export const navKey = "inbox.nav";

const PAGE = 50;

export async function render(root, ctx) {
  const [head, ...tail] = (ctx.params.rest || "").split("/");
  if (head === "contacts" || head === "rules") {
    const { contactsView, rulesView } = await import("../components/inbox-contacts.js");
    return head === "contacts" ? contactsView(root, ctx) : rulesView(root, ctx);
  }
  return inbox(root, ctx, head === "t" ? decodeURIComponent(tail.join("/")) : null,
    head === "contact" && /^\d+$/.test(tail[0] || "") ? tail[0] : "");
}

async function inbox(root, ctx, openKey, contactId) {
  const { t } = ctx;
  let alive = true;
  let unsubscribe = null;
  let timer = null;
  let threads = [];
  let next = null;
  let loads = 0; // only the latest of overlapping loads (a filter changed during a live refresh) is shown
  let selected = openKey;
  let thread = null;
  const [entries, catalog, contacts] = await Promise.all([
    ctx.api.get("/api/config-entries").catch(() => ({ entries: [] })),
    ctx.api.get("/api/integrations").catch(() => null),
    ctx.api.get("/api/contacts").catch(() => ({ contacts: [] })),
  ]);
  const channels = channelTitles(entries.entries || []);
  // The channel filter offers message accounts only (every entry, if the catalog is not known).
  const messaging = catalog
    ? new Set((catalog.integrations || []).filter((i) => i.features?.messages).map((i) => i.domain))
    : null;
  const accounts = (entries.entries || []).filter((e) => !messaging || messaging.has(e.domain))
    .sort((a, b) => (a.title || "").localeCompare(b.title || "", ctx.lang));
  const people = new Map((contacts.contacts || []).map((c) => [String(c.id), c]));

  // Filters
  const select = (id, label, options, value = "") => {
    const el = h("select", { id, name: id, onchange: () => reload() },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
    return [h("div", { class: "inbox-filter" }, h("label", { for: id }, label), el), el];
  };
  const [channelBox, channel] = select("inbox-channel", t("inbox.filter_channel"),
    [["", t("inbox.all_channels")], ...accounts.map((e) => [e.entry_id, channels.get(e.entry_id)])]);
  const [importanceBox, importance] = select("inbox-importance", t("inbox.filter_importance"),
    [["", t("inbox.any_importance")], ...["high", "normal", "low"].map((i) => [i, t(`inbox.importance_${i}`)])]);
  const [contactBox, contact] = select("inbox-contact", t("inbox.filter_contact"),
    [["", t("inbox.any_contact")], ...[...people.values()].map((c) => [String(c.id), c.name])], contactId);
  const unread = h("input", { id: "inbox-unread", type: "checkbox", onchange: () => reload() });
  const archived = h("input", { id: "inbox-archived", type: "checkbox", onchange: () => reload() });
  const check = (input, label) => h("label", { class: "inbox-check", for: input.id }, input, " ", label);
  const filters = h("form", { class: "inbox-filters", "aria-label": t("inbox.filters"), onsubmit: (e) => e.preventDefault() },
    channelBox, importanceBox, people.size ? contactBox : null,
    check(unread, t("inbox.unread_only")), check(archived, t("inbox.show_archived")));

  const counts = h("p", { class: "inbox-counts muted", "aria-live": "polite" });
  const list = h("ul", { class: "inbox-list", "aria-label": t("inbox.threads") });
  const empty = h("p", { class: "muted inbox-empty", hidden: true });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const more = h("button", { type: "button", class: "inbox-more", hidden: true, onclick: () => loadMore() }, t("inbox.load_more"));
  const side = h("section", { class: "inbox-side", "aria-label": t("inbox.threads") }, filters, counts, problem, empty, list, more);
  const pick = () => h("p", { class: "muted inbox-pick" }, t("inbox.pick_thread"));
  const detail = h("section", { class: "inbox-detail", "aria-label": t("inbox.conversation") }, pick());
  const page = h("div", { class: "inbox-page" }, side, detail);
  root.append(
    h("header", { class: "inbox-head" },
      h("h1", {}, t("inbox.title")),
      h("nav", { class: "inbox-links", "aria-label": t("inbox.more_views") },
        h("a", { href: "#/inbox/contacts" }, t("inbox.contacts")),
        h("a", { href: "#/inbox/rules" }, t("inbox.rules")))),
    page);

  function query(before = null, limit = PAGE) {
    return {
      channel: channel.value, importance: importance.value, contact: contact.value,
      unread: unread.checked ? "1" : "", archived: archived.checked ? "1" : "0", before, limit,
    };
  }

  async function reload() {
    // A live refresh keeps as many threads as are shown (up to the API's 200).
    const shown = Math.min(Math.max(threads.length, PAGE), 200);
    const turn = ++loads;
    try {
      const answer = await ctx.api.get("/api/inbox", query(null, shown));
      if (!alive || turn !== loads) return;
      threads = answer.threads || [];
      next = answer.next;
      paint(answer.counts || {});
    } catch (err) {
      if (!alive || turn !== loads) return;
      problem.textContent = errorText(err);
      problem.hidden = false;
    }
  }

  async function loadMore() {
    if (!next) return;
    more.disabled = true;
    const turn = ++loads;
    try {
      const answer = await ctx.api.get("/api/inbox", query(next));
      if (!alive || turn !== loads) return;
      threads = threads.concat(answer.threads || []);
      next = answer.next;
      paint(answer.counts || {});
      list.querySelectorAll(".inbox-thread a")[threads.length - (answer.threads || []).length]?.focus();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    } finally {
      more.disabled = false;
    }
  }

  function paint(numbers) {
    problem.hidden = true;
    counts.textContent = t("inbox.counts", { unread: numbers.unread ?? 0, high: numbers.high ?? 0 });
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    clear(list).append(...threads.map(item));
    empty.textContent = archived.checked ? t("inbox.empty_archived")
      : filtered() ? t("inbox.empty_filtered") : t("inbox.empty");
    empty.hidden = threads.length > 0;
    more.hidden = !next;
    if (focused !== null) [...list.querySelectorAll("a")].find((a) => a.dataset.key === focused)?.focus();
  }

  const filtered = () => Boolean(channel.value || importance.value || contact.value || unread.checked);

  function item(th) {
    const last = th.last || {};
    const who = th.contact?.name || senderName(last, t);
    const badges = [
      th.importance === "high" ? h("span", { class: "badge inbox-badge--high" }, t("inbox.importance_high")) : null,
      th.unread ? h("span", { class: "badge inbox-badge--unread" }, t("inbox.unread_badge", { n: th.unread })) : null,
      th.drafts ? h("span", { class: "badge inbox-badge--draft" }, t("inbox.drafts_badge", { n: th.drafts })) : null,
    ];
    return h("li", { class: `inbox-thread${th.unread ? " inbox-thread--unread" : ""}` },
      h("a", {
        href: `#/inbox/t/${encodeURIComponent(th.thread_key)}`, dataset: { key: th.thread_key },
        "aria-current": th.thread_key === selected ? "true" : null,
        onclick: (event) => {
          event.preventDefault();
          open(th.thread_key, true);
        },
      },
      h("span", { class: "inbox-thread__top" },
        h("span", { class: "inbox-thread__sender" }, who),
        h("time", { datetime: last.received_at || "" }, shortTime(last.received_at, ctx.lang))),
      h("span", { class: "inbox-thread__subject" }, th.subject || t("inbox.no_subject"),
        th.count > 1 ? h("span", { class: "muted" }, ` · ${t("inbox.message_count", { n: th.count })}`) : null),
      h("span", { class: "inbox-thread__line muted" }, summaryOf(last, th.subject) || last.snippet || ""),
      h("span", { class: "inbox-thread__meta" }, badges,
        h("span", { class: "muted" }, channels.get(th.entry_id) || th.domain))));
  }

  function open(key, push) {
    // One history entry for the list → a thread (the phone's back button returns to the list);
    // going from thread to thread replaces it.
    if (push) history[selected ? "replaceState" : "pushState"](null, "", `#/inbox/t/${encodeURIComponent(key)}`);
    selected = key;
    for (const a of list.querySelectorAll("a")) a.toggleAttribute("aria-current", a.dataset.key === key);
    thread?.destroy();
    thread = threadView(ctx, key, { channels, people, onClose: close, onChanged: () => reloadSoon() });
    append(clear(detail), [thread.element]);
    page.classList.add("inbox-page--thread");
    thread.load().then(() => thread?.focus());
  }

  function close(changed = false) {
    const was = selected;
    selected = null;
    thread?.destroy();
    thread = null;
    clear(detail).append(pick());
    page.classList.remove("inbox-page--thread");
    history.replaceState(null, "", "#/inbox");
    for (const a of list.querySelectorAll("a")) a.removeAttribute("aria-current");
    const focus = () => ([...list.querySelectorAll("a")].find((a) => a.dataset.key === was)
      || list.querySelector("a") || channel).focus();
    if (changed) reload().then(focus);
    else focus();
  }

  function reloadSoon() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      reload();
      thread?.load();
    }, 200);
  }

  await reload();
  if (openKey) open(openKey, false);

  // Live: a new, triaged or marked message and any draft change refresh the list and the thread.
  ctx.ws?.subscribe("subscribe_events", { event_type: "inbox.*" }, () => reloadSoon())
    .then((stop) => { if (alive) unsubscribe = stop; else stop(); })
    .catch(() => {});

  return () => {
    alive = false;
    clearTimeout(timer);
    unsubscribe?.();
    thread?.destroy();
  };
}
