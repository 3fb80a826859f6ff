// The Memory page's shared pieces: a kind's label, a node's badges, the kinds and predicates the hub
// knows, the "new entry" dialog and the search-then-pick node picker.

import { h, clear, dialog } from "../dom.js";
import { errorText } from "../errors.js";

export const MAX_TEXT = 2000;
export const MAX_NAME = 200;
const TIERS = ["unregulated", "regulated", "internal"]; // a required_tier's number → its name

/** A kind in the person's language: the core kinds are translated, an integration's shows its key. */
export function kindLabel(kind, t) {
  const key = `memory.kinds.${kind}`;
  const text = t(key);
  return text === key ? String(kind).replace(/_/g, " ") : text;
}

/** The kind, whose it is, and its tier when an integration's entity raised it. */
export function nodeBadges(node, t) {
  return [
    h("span", { class: "mem-badge" }, kindLabel(node.kind, t)),
    h("span", { class: `mem-badge${node.household ? " mem-badge--household" : ""}` },
      node.household ? t("memory.household_badge") : t("memory.own_badge")),
    node.required_tier
      ? h("span", { class: "mem-badge", title: t("memory.tier_hint") },
        t("memory.tier_badge", { tier: t(`settings.tier_${TIERS[node.required_tier] || "internal"}`) }))
      : null,
  ];
}

/** The kinds nodes may have (the core ones and the integrations' ``world_kind`` keys). */
export async function loadKinds(ctx) {
  try {
    const answer = await ctx.api.get("/api/memory/kinds");
    const list = Array.isArray(answer) ? answer : answer.kinds || [];
    return list.map((kind) => (typeof kind === "string" ? kind : kind.key)).filter(Boolean);
  } catch {
    return ["person", "place", "project", "task", "device", "organization", "event", "topic", "thing"];
  }
}

/** A predicate's words: the hub's own are translated here, an integration's come as it names them. */
export function predicateText(predicate, t) {
  const name = t(`memory.predicates.${predicate.key}`);
  const hint = t(`memory.predicate_hints.${predicate.key}`);
  return {
    name: name === `memory.predicates.${predicate.key}` ? predicate.name || predicate.key : name,
    hint: hint === `memory.predicate_hints.${predicate.key}` ? predicate.description || "" : hint,
  };
}

/** The predicates a relation may use: ``[{key, name, description, is_transitive, is_symmetric, source}]``. */
export async function loadPredicates(ctx) {
  const answer = await ctx.api.get("/api/memory/predicates");
  return Array.isArray(answer) ? answer : answer.predicates || [];
}

/** Names one per line (or comma-separated), trimmed, without repeats or empty ones. */
export function aliasList(text) {
  return [...new Set(String(text).split(/[\n,]/).map((line) => line.trim()).filter(Boolean))];
}

/** Ask for a new node; resolves to the created NodeView, or null when cancelled. */
export function createDialog(ctx, kinds, initial = {}) {
  const { t } = ctx;
  return new Promise((resolve) => {
    let made = null;
    const kind = h("select", { id: "memory-new-kind" },
      kinds.map((key) => h("option", { value: key, selected: key === initial.kind }, kindLabel(key, t))));
    const name = h("input", { id: "memory-new-name", required: true, maxlength: MAX_NAME, value: initial.name || "",
      autocomplete: "off" });
    const aliases = h("textarea", { id: "memory-new-aliases", rows: 3, "aria-describedby": "memory-new-aliases-hint" });
    const household = h("input", { id: "memory-new-household", type: "checkbox", "aria-describedby": "memory-new-household-hint" });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, t("memory.create"));
    const form = h("form", { class: "mem-form", onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      try {
        made = await ctx.api.post("/api/memory/nodes", {
          kind: kind.value, name: name.value.trim(), aliases: aliasList(aliases.value), household: household.checked,
        });
        dlg.close();
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
        submit.disabled = false;
      }
    } },
    h("label", { for: "memory-new-kind" }, t("memory.kind")), kind,
    h("label", { for: "memory-new-name" }, t("memory.name")), name,
    h("label", { for: "memory-new-aliases" }, t("memory.aliases")), aliases,
    h("p", { class: "muted mem-hint", id: "memory-new-aliases-hint" }, t("memory.aliases_hint")),
    h("label", { class: "mem-check" }, household, t("memory.household")),
    h("p", { class: "muted mem-hint", id: "memory-new-household-hint" }, t("memory.household_hint")),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("memory.cancel")),
      submit));
    const dlg = dialog(t("memory.new_title"), form);
    dlg.addEventListener("close", () => resolve(made));
    name.focus();
  });
}

/**
 * A node picked by searching: a search box and a select of what it finds (``exclude``: the node
 * itself). ``value()`` is the picked node's id, or null.
 */
export function nodePicker(ctx, { id, exclude = null }) {
  const { t } = ctx;
  let timer = null;
  let asked = 0;
  const box = h("input", { type: "search", id: `${id}-search`, autocomplete: "off" });
  const select = h("select", { id, disabled: true }, h("option", { value: "" }, t("memory.object_none")));
  const find = async () => {
    const turn = ++asked;
    const q = box.value.trim();
    if (!q) {
      clear(select).append(h("option", { value: "" }, t("memory.object_none")));
      select.disabled = true;
      return;
    }
    try {
      const answer = await ctx.api.get("/api/memory/nodes", { q, limit: 20 });
      if (turn !== asked) return;
      const nodes = (answer.nodes || []).filter((node) => node.id !== exclude);
      clear(select).append(...(nodes.length
        ? nodes.map((node) => h("option", { value: String(node.id) }, `${node.name} (${kindLabel(node.kind, t)})`))
        : [h("option", { value: "" }, t("memory.object_empty"))]));
      select.disabled = !nodes.length;
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  };
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(find, 200);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // the search runs; the form is not sent with nothing picked
    clearTimeout(timer);
    find();
  });
  return {
    elements: [
      h("label", { for: `${id}-search` }, t("memory.object_search")), box,
      h("label", { for: id }, t("memory.object")), select,
    ],
    value: () => (select.value ? Number(select.value) : null),
    reset: () => {
      box.value = "";
      find();
    },
    stop: () => clearTimeout(timer),
  };
}
