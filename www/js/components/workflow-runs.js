// A workflow's run history (newest first, paged) and one run's trace: what triggered it, how its
// conditions came out, and each step with its input, result, error and duration; "Run again".

import { h, clear, when } from "../dom.js";
import { errorText } from "../errors.js";

const PAGE = 30;

/** Milliseconds for people: "350 ms", "2.4 s", "3 min". */
export function duration(ms, lang) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  const n = Number(ms);
  const fmt = (value, digits) => new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
  if (n < 1000) return `${fmt(n, n < 10 ? 1 : 0)} ms`;
  if (n < 120_000) return `${fmt(n / 1000, 1)} s`;
  return `${fmt(n / 60_000, 1)} min`;
}

/** A run's status as a badge. */
export function statusBadge(status, t) {
  return h("span", { class: `badge wf-status wf-status--${status}` }, t(`workflows.status_${status}`));
}

const json = (value) => (value === undefined || value === null ? "—" : JSON.stringify(value, null, 2));

/** The history of ``workflow`` (a view from GET /api/workflows/{id}). */
export function runsView(root, ctx, workflow) {
  const { t } = ctx;
  const base = `/api/workflows/${encodeURIComponent(workflow.id)}`;
  let runs = [];
  let next = null;
  let alive = true;
  const list = h("ul", { class: "wf-runs", "aria-label": t("workflows.runs") });
  const empty = h("p", { class: "muted", hidden: true }, t("workflows.no_runs"));
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const more = h("button", { type: "button", hidden: true, onclick: () => load(true) }, t("workflows.load_more"));
  const runNow = h("button", { type: "button", class: "primary", onclick: async () => {
    runNow.disabled = true;
    try {
      await ctx.api.post(`${base}/run`);
      ctx.toast(t("workflows.started", { name: workflow.name }), "info");
      await load(false);
    } catch (err) {
      ctx.toast(errorText(err), "error");
    } finally {
      runNow.disabled = false;
    }
  } }, t("workflows.run_now"));
  root.append(
    h("header", { class: "wf-head" },
      h("h1", {}, t("workflows.runs_of", { name: workflow.name })),
      h("nav", { class: "wf-links", "aria-label": t("workflows.more_views") },
        h("a", { href: "#/workflows" }, t("workflows.back_to_list")),
        h("a", { href: `#/workflows/${encodeURIComponent(workflow.id)}` }, t("workflows.edit")))),
    h("div", { class: "wf-bar wf-bar--start" }, runNow),
    problem, empty, list, more);

  async function load(older) {
    try {
      const answer = await ctx.api.get(`${base}/runs`, { limit: older ? PAGE : Math.max(PAGE, runs.length), before: older ? next : null });
      if (!alive) return;
      runs = older ? runs.concat(answer.runs || []) : answer.runs || [];
      next = answer.next || null;
      problem.hidden = true;
      paint();
    } catch (err) {
      if (!alive) return;
      problem.textContent = errorText(err);
      problem.hidden = false;
    }
  }

  function paint() {
    empty.hidden = runs.length > 0;
    more.hidden = !next;
    clear(list).append(...runs.map((run) => h("li", { class: "wf-run", dataset: { status: run.status } },
      h("a", { href: `#/workflows/${encodeURIComponent(workflow.id)}/runs/${encodeURIComponent(run.id)}`,
        "aria-label": t("workflows.run_label", { status: t(`workflows.status_${run.status}`), time: when(run.started_at, ctx.lang) }) },
      statusBadge(run.status, t),
      h("span", { class: "wf-run__trigger" }, triggerName(run.trigger, t)),
      h("time", { datetime: run.started_at || "" }, when(run.started_at, ctx.lang)),
      h("span", { class: "wf-run__duration muted" }, duration(run.duration_ms, ctx.lang))))));
  }

  load(false);
  return {
    refresh: () => load(false),
    stop: () => { alive = false; },
  };
}

/** What started a run, in words. */
export function triggerName(trigger, t) {
  const type = trigger?.type;
  if (!type) return "—";
  const name = ["manual", "event", "state", "schedule", "webhook", "message"].includes(type)
    ? t(`workflows.trigger_${type}`) : type;
  return trigger.rerun_of ? `${name} · ${t("workflows.rerun")}` : name;
}

/** One run's trace. */
export function traceView(root, ctx, workflowId, runId) {
  const { t } = ctx;
  const base = `/api/workflows/${encodeURIComponent(workflowId)}`;
  const body = h("div", { class: "wf-trace", "aria-live": "polite" }, h("p", { class: "muted" }, t("workflows.loading")));
  const heading = h("h1", { tabindex: "-1" }, t("workflows.trace"));
  const again = h("button", { type: "button", class: "primary", onclick: async () => {
    again.disabled = true;
    try {
      const answer = await ctx.api.post(`${base}/runs/${encodeURIComponent(runId)}/rerun`);
      ctx.toast(t("workflows.rerun_started"), "info");
      ctx.navigate(`workflows/${encodeURIComponent(workflowId)}/runs/${encodeURIComponent(answer.run_id)}`);
    } catch (err) {
      ctx.toast(errorText(err), "error");
      again.disabled = false;
    }
  } }, t("workflows.run_again"));
  root.append(
    h("header", { class: "wf-head" }, heading,
      h("nav", { class: "wf-links", "aria-label": t("workflows.more_views") },
        h("a", { href: `#/workflows/${encodeURIComponent(workflowId)}/runs` }, t("workflows.back_to_runs")),
        h("a", { href: "#/workflows" }, t("workflows.back_to_list")))),
    h("div", { class: "wf-bar wf-bar--start" }, again),
    body);
  let run = null;
  let alive = true;
  let timer = null;
  let tries = 0;

  async function load() {
    clearTimeout(timer);
    try {
      run = await ctx.api.get(`${base}/runs/${encodeURIComponent(runId)}`);
      if (!alive) return;
      again.disabled = false;
      paint();
      // A run still going is shown again when it ends (its event), and meanwhile now and then.
      if (run.status === "running") timer = setTimeout(load, 2000);
    } catch (err) {
      if (!alive) return;
      // A run just started may not be written down yet: wait for it a little while.
      if (err.code === "workflow_run_not_found" && !run && tries++ < 15) {
        clear(body).append(h("p", { class: "muted" }, t("workflows.waiting_for_run")));
        timer = setTimeout(load, 500 * Math.min(tries, 4));
        return;
      }
      clear(body).append(h("p", { class: "error", role: "alert" }, errorText(err)));
      again.disabled = true;
    }
  }

  function paint() {
    const sections = [
      h("dl", { class: "wf-facts" },
        fact(t("workflows.status"), statusBadge(run.status, t)),
        fact(t("workflows.started_at"), when(run.started_at, ctx.lang)),
        fact(t("workflows.duration"), duration(run.duration_ms, ctx.lang)),
        fact(t("workflows.triggered_by"), triggerName(run.trigger, t)),
        run.rerun_of ? fact(t("workflows.rerun_of"),
          h("a", { href: `#/workflows/${encodeURIComponent(workflowId)}/runs/${encodeURIComponent(run.rerun_of)}` }, t("workflows.open_run"))) : null),
      run.error ? h("p", { class: "error wf-run-error" },
        run.error.path ? h("code", {}, run.error.path) : null, run.error.path ? " — " : null, run.error.message || run.error.code) : null,
      h("section", { "aria-labelledby": "wf-trace-trigger" },
        h("h2", { id: "wf-trace-trigger" }, t("workflows.trigger_data")),
        h("pre", { class: "wf-pre" }, json(run.trigger))),
      h("section", { "aria-labelledby": "wf-trace-conditions" },
        h("h2", { id: "wf-trace-conditions" }, t("workflows.conditions")),
        (run.conditions || []).length
          ? h("ul", { class: "wf-checks" }, run.conditions.map((c) => h("li", { class: c.result ? "ok" : "error" },
            h("code", {}, c.path), " — ", t(c.result ? "workflows.held" : "workflows.not_held"),
            c.error ? ` (${c.error})` : null)))
          : h("p", { class: "muted" }, t("workflows.no_conditions_checked"))),
      h("section", { "aria-labelledby": "wf-trace-steps" },
        h("h2", { id: "wf-trace-steps" }, t("workflows.steps")),
        (run.steps || []).length
          ? h("ol", { class: "wf-trace-steps", "aria-label": t("workflows.steps") }, run.steps.map(step))
          : h("p", { class: "muted" }, t("workflows.no_steps"))),
    ];
    clear(body).append(...sections);
    heading.textContent = t("workflows.trace_of", { time: when(run.started_at, ctx.lang) });
  }

  function step(s) {
    const kind = ["entity_action", "notify", "event", "agent", "http", "delay", "choose"].includes(s.type)
      ? t(`workflows.action_${s.type}`) : s.type;
    return h("li", { class: "wf-trace-step", dataset: { status: s.status } },
      h("details", { open: s.status === "failed" },
        h("summary", {},
          statusBadge(s.status, t), " ",
          h("strong", {}, s.alias || kind), " ",
          h("code", { class: "muted" }, s.path), " · ",
          duration(s.duration_ms, ctx.lang)),
        s.error ? h("p", { class: "error" }, s.error.message || s.error.code, s.error.code ? h("code", { class: "muted" }, ` ${s.error.code}`) : null) : null,
        h("h3", {}, t("workflows.step_input")), h("pre", { class: "wf-pre" }, json(s.input)),
        h("h3", {}, t("workflows.step_result")), h("pre", { class: "wf-pre" }, json(s.result))));
  }

  load().then(() => heading.focus());
  return {
    refresh: (event) => {
      if (!event || event.run_id === runId) load();
    },
    stop: () => {
      alive = false;
      clearTimeout(timer);
    },
  };
}

function fact(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}
