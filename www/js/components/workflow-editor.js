// The workflow editor: a form for everything a workflow is (no code to write). Its inputs write
// straight into the workflow's JSON; saving sends it, and a refused one (``workflow_invalid``)
// shows each problem next to the field its path names, and all of them on top.

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";
import { loadEntityText } from "../entity-text.js";
import { field, textInput, selectInput, checkInput, pathBox, clearProblems, showProblems } from "./workflow-form.js";
import { stepList } from "./workflow-parts.js";

const MODES = ["single", "restart", "queued", "parallel"];
/** What the hub keeps about a workflow, which an editor never sends back. */
const STORED = ["id", "owner", "version", "created_at", "updated_at", "disabled_reason", "status"];

function blank() {
  return {
    name: "", description: "", enabled: true, household: false, mode: "single", max_runs: 10,
    timeout_seconds: 300, triggers: [], conditions: [], actions: [],
  };
}

/** Fill ``root`` with the editor of workflow ``id`` (a new one when null). */
export async function workflowEditor(root, ctx, id) {
  const { t } = ctx;
  const [catalog, entities, entries, models, integrations, text, stored] = await Promise.all([
    ctx.api.get("/api/workflows/catalog"),
    ctx.api.get("/api/entities").then((a) => a.entities || []).catch(() => []),
    ctx.api.get("/api/config-entries").then((a) => a.entries || []).catch(() => []),
    ctx.api.get("/api/models").then((a) => a.models || []).catch(() => []),
    ctx.api.get("/api/integrations").then((a) => a.integrations || []).catch(() => []),
    loadEntityText(ctx),
    id ? ctx.api.get(`/api/workflows/${encodeURIComponent(id)}`) : null,
  ]);
  const version = stored?.version ?? null;
  const state = stored ? structuredClone(stored) : blank();
  for (const key of STORED) delete state[key];
  state.conditions ||= [];

  const byEntry = new Map(entries.map((e) => [e.entry_id, e]));
  // A household workflow sees household entries only; a personal one, everything its owner sees.
  const shared = (entry) => entry?.scope === "global";
  const env = {
    ctx, t, catalog, text, models,
    messaging: new Set(integrations.filter((i) => i.features?.messages).map((i) => i.domain)),
    household: () => Boolean(state.household),
    entries: () => entries.filter((e) => !state.household || shared(e))
      .sort((a, b) => (a.title || "").localeCompare(b.title || "", ctx.lang)),
    entities: () => entities.filter((e) => !state.household || shared(byEntry.get(e.entry_id)))
      .sort((a, b) => text.name(a).localeCompare(text.name(b), ctx.lang)),
    local: new Map(),
  };

  const heading = h("h1", { tabindex: "-1" }, stored ? t("workflows.edit_title", { name: stored.name }) : t("workflows.new_title"));
  const summary = h("div", { class: "wf-summary", role: "alert", hidden: true });

  // The workflow itself
  const maxRuns = field("max_runs", t("workflows.max_runs"), textInput(state, "max_runs", { number: true }),
    { hint: t("workflows.max_runs_hint") });
  const showMaxRuns = () => { maxRuns.hidden = !["queued", "parallel"].includes(state.mode); };
  const modes = (catalog.modes || MODES).map((mode) => [mode, t(`workflows.mode_${mode}`)]);
  const about = h("section", { class: "card wf-section", "aria-labelledby": "wf-about" },
    h("h2", { id: "wf-about" }, t("workflows.about")),
    field("name", t("workflows.name"), textInput(state, "name", { keepEmpty: true })),
    field("description", t("workflows.description"), textInput(state, "description", { multiline: true, keepEmpty: true }),
      { optional: true, t }),
    h("div", { class: "wf-row" },
      field("mode", t("workflows.mode"), selectInput(state, "mode", modes, { onchange: showMaxRuns }),
        { hint: t("workflows.mode_hint") }),
      maxRuns,
      field("timeout_seconds", t("workflows.timeout_seconds"), textInput(state, "timeout_seconds", { number: true }))),
    field("enabled", t("workflows.enabled"), checkInput(state, "enabled"), { inline: true }),
    ctx.person?.is_admin
      ? field("household", t("workflows.household"), checkInput(state, "household", { onchange: () => paintLists() }),
        { inline: true, hint: t("workflows.household_hint") })
      : null);
  showMaxRuns();

  const triggers = h("div");
  const conditions = h("div");
  const actions = h("div");
  const section = (key, hint, holder) => h("section", { class: "card wf-section", "aria-labelledby": `wf-${key}` },
    pathBox(key, { class: "wf-section__box" },
      h("h2", { id: `wf-${key}` }, t(`workflows.${key}`)),
      h("p", { class: "muted wf-hint" }, hint),
      holder));
  function paintLists() {
    clear(triggers).append(stepList(state.triggers, "triggers", "triggers", env, { label: t("workflows.triggers") }));
    clear(conditions).append(stepList(state.conditions, "conditions", "conditions", env, { label: t("workflows.conditions") }));
    clear(actions).append(stepList(state.actions, "actions", "actions", env, { label: t("workflows.actions") }));
  }
  paintLists();

  const save = h("button", { type: "submit", class: "primary" }, t("workflows.save"));
  const form = h("form", { class: "wf-editor", novalidate: true, "aria-labelledby": "wf-editor-title", onsubmit: (event) => {
    event.preventDefault();
    submit();
  } },
  summary,
  about,
  section("triggers", t("workflows.triggers_hint"), triggers),
  section("conditions", t("workflows.conditions_hint"), conditions),
  section("actions", t("workflows.actions_hint"), actions),
  h("div", { class: "wf-bar" },
    h("a", { class: "button", href: stored ? `#/workflows/${encodeURIComponent(stored.id)}/runs` : "#/workflows" }, t("workflows.cancel")),
    save));
  heading.id = "wf-editor-title";
  root.append(h("header", { class: "wf-head" }, heading,
    h("a", { href: "#/workflows" }, t("workflows.back_to_list"))), form);

  function problemsShown(list, lead) {
    clearProblems(form);
    const boxes = showProblems(form, list);
    clear(summary).append(
      h("p", { class: "wf-summary__lead" }, lead),
      list.length ? h("ul", {}, list.map((problem, index) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => {
          const box = boxes[index] || form;
          (box.querySelector("input, select, textarea, button") || box).focus();
          box.scrollIntoView({ block: "center" });
        } }, problem.path ? h("code", {}, problem.path) : null, problem.path ? " — " : null, problem.message)))) : null);
    summary.hidden = false;
    summary.scrollIntoView({ block: "start" });
  }

  async function submit() {
    if (env.local.size) {
      problemsShown([...env.local].map(([path, message]) => ({ path, message })), t("workflows.not_saved"));
      return;
    }
    save.disabled = true;
    const body = JSON.parse(JSON.stringify(state));
    try {
      const saved = stored
        ? await ctx.api.put(`/api/workflows/${encodeURIComponent(stored.id)}`, { ...body, version })
        : await ctx.api.post("/api/workflows", body);
      ctx.toast(t("workflows.saved", { name: saved.name }), "info");
      ctx.navigate("workflows");
    } catch (err) {
      const list = err.code === "workflow_invalid"
        ? (err.problems || err.params?.problems || [{ path: err.params?.path, message: err.message }])
        : [];
      // The hub's sentence starts with the path ("actions[0].title: …"); the field says where already.
      problemsShown(list.map((p) => {
        const path = p.path || "";
        const message = String(p.message || err.message);
        return { path, message: path && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message };
      }), list.length ? t("workflows.not_saved") : errorText(err));
    } finally {
      save.disabled = false;
    }
  }

  heading.focus();
  return () => {};
}
