// One memory node (#/memory/<id>): its names, its facts (added, edited, deleted), its relations
// (added with a predicate and another node found by search; deleted, except the inferred ones,
// which follow from others), the entities linked to it, and deleting it.

import { h, append, clear, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";
import { loadEntityText } from "../entity-text.js";
import {
  MAX_TEXT, MAX_NAME, aliasList, loadPredicates, nodeBadges, nodePicker, predicateText,
} from "./memory-parts.js";

const SOURCES = ["chat", "person", "entity", "message"];

/** Fill ``root`` with node ``id``; resolves to the view's cleanup. */
export async function nodeView(root, ctx, id) {
  const { t } = ctx;
  const path = `/api/memory/nodes/${id}`;
  let node;
  let predicates = [];
  let picker = null;
  const back = h("a", { class: "mem-back", href: "#/memory" }, t("memory.back"));
  try {
    [node, predicates] = await Promise.all([ctx.api.get(path), loadPredicates(ctx).catch(() => [])]);
  } catch (err) {
    root.append(back, h("p", { class: "error", role: "alert" }, errorText(err)));
    return null;
  }
  const words = new Map(predicates.map((p) => [p.key, predicateText(p, t)]));
  const predicateName = (key) => (words.get(key) || predicateText({ key }, t)).name;
  const page = h("div", { class: "mem-node" });
  root.append(page);

  async function reload(focusId = null) {
    try {
      node = await ctx.api.get(path);
    } catch (err) {
      ctx.toast(errorText(err), "error");
      return;
    }
    paint();
    if (focusId) document.getElementById(focusId)?.focus();
  }

  /** Run a change; on success toast ``done`` and reload, on failure show the hub's sentence. */
  async function change(work, done, focusId = null) {
    try {
      await work();
    } catch (err) {
      ctx.toast(errorText(err), "error");
      return false;
    }
    if (done) ctx.toast(done);
    await reload(focusId);
    return true;
  }

  function paint() {
    picker?.stop();
    append(clear(page), [
      back,
      h("header", { class: "mem-node__head" },
        h("h1", { id: "memory-node-title", tabindex: "-1" }, node.name),
        h("span", { class: "mem-result__badges" }, nodeBadges(node, t))),
      (node.aliases || []).length
        ? h("p", { class: "muted" }, t("memory.also_called", { aliases: node.aliases.join(", ") })) : null,
      h("div", { class: "mem-node__grid" },
        factsSection(),
        relationsSection(),
        namesSection(),
        entitiesSection()),
      h("div", { class: "mem-node__danger" },
        h("button", { type: "button", class: "danger", onclick: removeNode }, t("memory.delete_node", { name: node.name })))]);
  }

  // ---- names --------------------------------------------------------------------------------------

  function namesSection() {
    const name = h("input", { id: "memory-name", required: true, maxlength: MAX_NAME, value: node.name, autocomplete: "off" });
    const aliases = h("textarea", { id: "memory-aliases", rows: 3, "aria-describedby": "memory-aliases-hint" });
    aliases.value = (node.aliases || []).join("\n");
    const form = h("form", { class: "mem-form", onsubmit: async (event) => {
      event.preventDefault();
      const wanted = name.value.trim();
      await change(() => ctx.api.patch(path, { name: wanted, aliases: aliasList(aliases.value) }),
        t("memory.saved", { name: wanted }), "memory-name");
    } },
    h("label", { for: "memory-name" }, t("memory.name")), name,
    h("label", { for: "memory-aliases" }, t("memory.aliases")), aliases,
    h("p", { class: "muted mem-hint", id: "memory-aliases-hint" }, t("memory.aliases_hint")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("memory.save"))));
    return h("section", { class: "card mem-section", "aria-labelledby": "memory-names" },
      h("h2", { id: "memory-names" }, t("memory.names")), form);
  }

  // ---- facts --------------------------------------------------------------------------------------

  function factsSection() {
    const facts = node.facts || [];
    const text = h("textarea", { id: "memory-fact-new", rows: 3, maxlength: MAX_TEXT, required: true,
      "aria-describedby": "memory-fact-new-hint" });
    const household = h("input", { type: "checkbox", id: "memory-fact-household", checked: Boolean(node.household) });
    const form = h("form", { class: "mem-form", onsubmit: async (event) => {
      event.preventDefault();
      const body = { node_id: node.id, text: text.value.trim(), household: household.checked };
      await change(() => ctx.api.post("/api/memory/facts", body), t("memory.fact_added"), "memory-fact-new");
    } },
    h("label", { for: "memory-fact-new" }, t("memory.new_fact")), text,
    h("p", { class: "muted mem-hint", id: "memory-fact-new-hint" }, t("memory.fact_hint")),
    h("label", { class: "mem-check" }, household, t("memory.fact_household")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("memory.add_fact"))));
    return h("section", { class: "card mem-section", "aria-labelledby": "memory-facts" },
      h("h2", { id: "memory-facts" }, t("memory.facts")),
      facts.length
        ? h("ul", { class: "mem-facts", "aria-label": t("memory.facts") }, facts.map(factItem))
        : h("p", { class: "muted" }, t("memory.no_facts")),
      form);
  }

  function factItem(fact) {
    const short = fact.text.length > 40 ? `${fact.text.slice(0, 40)}…` : fact.text;
    const li = h("li", { class: "mem-fact", dataset: { factId: String(fact.id) } });
    const meta = [
      SOURCES.includes(fact.source) ? t(`memory.source_${fact.source}`) : null,
      fact.created_at ? asDate(fact.created_at).toLocaleString(ctx.lang) : null,
      fact.household ? t("memory.household_badge") : null,
    ].filter(Boolean).join(" · ");
    const show = () => {
      clear(li).append(
        h("p", { class: "mem-fact__text" }, fact.text),
        h("p", { class: "muted mem-fact__meta" }, meta),
        h("div", { class: "mem-row-tools" },
          h("button", { type: "button", "aria-label": t("memory.edit_fact", { text: short }), onclick: edit }, t("memory.edit")),
          h("button", { type: "button", class: "danger", "aria-label": t("memory.delete_fact", { text: short }), onclick: remove },
            t("memory.delete"))));
    };
    const edit = () => {
      const box = h("textarea", { id: `memory-fact-${fact.id}`, rows: 3, maxlength: MAX_TEXT, required: true,
        "aria-label": t("memory.fact_text") });
      box.value = fact.text;
      clear(li).append(h("form", { class: "mem-form mem-fact__edit", onsubmit: async (event) => {
        event.preventDefault();
        await change(() => ctx.api.patch(`/api/memory/facts/${fact.id}`, { text: box.value.trim() }),
          t("memory.fact_saved"));
      } },
      box,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: show }, t("memory.cancel")),
        h("button", { type: "submit", class: "primary" }, t("memory.save")))));
      box.focus();
    };
    const remove = async () => {
      const sure = await confirmDialog(t("memory.delete_fact_question"), t("memory.delete"), t("memory.cancel"),
        t("memory.delete_fact_details"));
      if (sure) await change(() => ctx.api.del(`/api/memory/facts/${fact.id}`), t("memory.fact_deleted"), "memory-facts");
    };
    show();
    return li;
  }

  // ---- relations ----------------------------------------------------------------------------------

  function relationsSection() {
    const relations = (node.relations || []).slice()
      .sort((a, b) => Number(Boolean(a.inferred)) - Number(Boolean(b.inferred)));
    const predicate = h("select", { id: "memory-predicate" },
      predicates.map((p) => h("option", { value: p.key, title: words.get(p.key).hint || undefined }, words.get(p.key).name)));
    picker = nodePicker(ctx, { id: "memory-object", exclude: node.id });
    const household = h("input", { type: "checkbox", id: "memory-relation-household", checked: Boolean(node.household) });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const form = h("form", { class: "mem-form", onsubmit: async (event) => {
      event.preventDefault();
      const object = picker.value();
      if (!object) {
        error.textContent = t("memory.relation_needs_object");
        error.hidden = false;
        document.getElementById("memory-object-search")?.focus();
        return;
      }
      error.hidden = true;
      const body = { subject_id: node.id, predicate: predicate.value, object_id: object, household: household.checked };
      await change(() => ctx.api.post("/api/memory/relations", body), t("memory.relation_added"), "memory-predicate");
    } },
    h("h3", {}, t("memory.new_relation")),
    h("label", { for: "memory-predicate" }, t("memory.predicate")), predicate,
    picker.elements,
    h("label", { class: "mem-check" }, household, t("memory.relation_household")),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("memory.add_relation"))));
    return h("section", { class: "card mem-section", "aria-labelledby": "memory-relations" },
      h("h2", { id: "memory-relations" }, t("memory.relations")),
      relations.length
        ? h("ul", { class: "mem-relations", "aria-label": t("memory.relations") }, relations.map(relationItem))
        : h("p", { class: "muted" }, t("memory.no_relations")),
      form);
  }

  function relationItem(rel) {
    const end = (other) => (other.id === node.id
      ? h("strong", {}, other.name)
      : h("a", { href: `#/memory/${other.id}` }, other.name));
    const parts = { subject: rel.subject.name, predicate: predicateName(rel.predicate), object: rel.object.name };
    const remove = async () => {
      const sure = await confirmDialog(t("memory.delete_relation_question"), t("memory.delete"), t("memory.cancel"),
        t("memory.delete_relation_details", parts));
      if (sure) {
        await change(() => ctx.api.del(`/api/memory/relations/${rel.id}`), t("memory.relation_deleted"), "memory-relations");
      }
    };
    return h("li", { class: `mem-relation${rel.inferred ? " mem-relation--inferred" : ""}` },
      h("span", { class: "mem-relation__text" },
        end(rel.subject), " ", h("span", { class: "mem-relation__predicate" }, parts.predicate), " ", end(rel.object)),
      rel.inferred
        ? h("span", { class: "mem-badge mem-badge--inferred", title: t("memory.inferred_hint") }, t("memory.inferred"))
        : h("span", { class: "mem-row-tools" },
          rel.household ? h("span", { class: "mem-badge mem-badge--household" }, t("memory.household_badge")) : null,
          h("button", { type: "button", class: "danger", "aria-label": t("memory.delete_relation", parts), onclick: remove },
            t("memory.delete"))));
  }

  // ---- linked entities ----------------------------------------------------------------------------

  function entitiesSection() {
    const ids = node.entities || [];
    const list = h("ul", { class: "mem-entities", "aria-label": t("memory.entities") },
      ids.map((entityId) => h("li", {},
        h("a", { href: `#/entities/${entityId}`, dataset: { entityId: String(entityId) } },
          t("memory.entity_fallback", { id: entityId })))));
    if (ids.length) nameEntities(list, ids);
    return h("section", { class: "card mem-section", "aria-labelledby": "memory-entities" },
      h("h2", { id: "memory-entities" }, t("memory.entities")),
      ids.length ? list : h("p", { class: "muted" }, t("memory.no_entities")));
  }

  /** Each link's words: the entity's name in the person's language (the fallback stays if it is gone). */
  async function nameEntities(list, ids) {
    const text = await loadEntityText(ctx);
    await Promise.all(ids.map(async (entityId) => {
      try {
        const entity = await ctx.api.get(`/api/entities/${entityId}`);
        const link = list.querySelector(`a[data-entity-id="${entityId}"]`);
        if (link) link.textContent = text.name(entity) || entity.name || link.textContent;
      } catch {
        // Not readable (gone, or above the person's reach): the link keeps its fallback.
      }
    }));
  }

  // ---- the node itself ----------------------------------------------------------------------------

  async function removeNode() {
    const sure = await confirmDialog(t("memory.delete_node_question", { name: node.name }), t("memory.delete"),
      t("memory.cancel"), t("memory.delete_node_details"));
    if (!sure) return;
    try {
      await ctx.api.del(path);
    } catch (err) {
      ctx.toast(errorText(err), "error");
      return;
    }
    ctx.toast(t("memory.node_deleted", { name: node.name }));
    ctx.navigate("memory");
  }

  paint();
  return () => picker?.stop();
}

/** The hub's times are seconds since the epoch (or an ISO text). */
function asDate(value) {
  return new Date(typeof value === "number" ? value * 1000 : value);
}
