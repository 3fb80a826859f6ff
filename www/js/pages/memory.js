// Memory: what the assistant remembers about the person's world. #/memory searches the nodes (by
// name, alias or fact text, of one kind or all) and adds new ones; #/memory/<id> opens one node:
// its names, facts, relations and linked entities (components/memory-node.js).

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";
import { kindLabel, nodeBadges, loadKinds, createDialog } from "../components/memory-parts.js";

export const route = "memory";
export const navKey = "memory.nav";

const SEARCH_DELAY = 200; // ms of quiet typing before the hub is asked
const LIMIT = 50;

export async function render(root, ctx) {
  const head = decodeURIComponent((ctx.params.rest || "").split("/")[0] || "");
  if (/^\d+$/.test(head)) {
    const { nodeView } = await import("../components/memory-node.js");
    return nodeView(root, ctx, Number(head));
  }
  return searchView(root, ctx);
}

async function searchView(root, ctx) {
  const { t } = ctx;
  let alive = true;
  let timer = null;
  let asked = 0;
  const kinds = await loadKinds(ctx);
  const query = h("input", { type: "search", id: "memory-q", class: "mem-search__q", autocomplete: "off",
    placeholder: t("memory.search_placeholder"), "aria-label": t("memory.search") });
  const kind = h("select", { id: "memory-kind", "aria-label": t("memory.kind") },
    h("option", { value: "" }, t("memory.all_kinds")),
    kinds.map((key) => h("option", { value: key }, kindLabel(key, t))));
  const status = h("p", { class: "muted mem-status", role: "status" }, t("memory.loading"));
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const results = h("ul", { class: "mem-results", "aria-label": t("memory.results"), "aria-busy": "true" });
  const form = h("form", { class: "mem-search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    clearTimeout(timer);
    search();
  } }, query, kind, h("button", { type: "submit" }, t("memory.search_button")));
  const add = h("button", { type: "button", class: "primary", onclick: async () => {
    const made = await createDialog(ctx, kinds, { kind: kind.value || "thing", name: query.value.trim() });
    if (made) {
      ctx.toast(t("memory.created", { name: made.name }));
      ctx.navigate(`memory/${made.id}`);
    }
  } }, t("memory.new"));
  root.append(
    h("header", { class: "mem-head" }, h("h1", {}, t("memory.title")), add),
    h("p", { class: "muted mem-intro" }, t("memory.intro")),
    form, problem, status, results);

  async function search() {
    const turn = ++asked;
    results.setAttribute("aria-busy", "true");
    const q = query.value.trim();
    try {
      const answer = await ctx.api.get("/api/memory/nodes", { q, kind: kind.value, limit: LIMIT });
      if (!alive || turn !== asked) return;
      const nodes = answer.nodes || [];
      clear(results).append(...nodes.map((node) => item(node)));
      problem.hidden = true;
      status.textContent = nodes.length
        ? (nodes.length === 1 ? t("memory.found_one") : t("memory.found", { n: nodes.length }))
        : (q || kind.value ? t("memory.nothing_found") : t("memory.empty"));
    } catch (err) {
      if (!alive || turn !== asked) return;
      problem.textContent = errorText(err);
      problem.hidden = false;
      status.textContent = "";
    }
    results.setAttribute("aria-busy", "false");
  }

  function item(node) {
    const aliases = node.aliases || [];
    return h("li", {},
      h("a", { class: "card mem-result", href: `#/memory/${node.id}` },
        h("span", { class: "mem-result__name" }, node.name),
        h("span", { class: "mem-result__badges" }, nodeBadges(node, t)),
        aliases.length
          ? h("span", { class: "muted mem-result__aliases" }, t("memory.also_called", { aliases: aliases.join(", ") }))
          : null));
  }

  query.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY);
  });
  kind.addEventListener("change", () => {
    clearTimeout(timer);
    search();
  });
  await search();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
