// Workflows: what runs when an event, a state change, a schedule, a webhook or a message happens.
// #/workflows lists them (switch, last run, "Run now"); #/workflows/new and #/workflows/<id> open
// the editor; #/workflows/<id>/runs is the history and #/workflows/<id>/runs/<run_id> one run's
// trace (notifications link there).

import { h, clear, confirmDialog, when } from "../dom.js";
import { errorText } from "../errors.js";
import { statusBadge, duration } from "../components/workflow-runs.js";

export const route = "workflows";
export const navKey = "workflows.nav";

export async function render(root, ctx) {
  const [head, second, third] = (ctx.params.rest || "").split("/").map((part) => decodeURIComponent(part));
  let view = null;
  if (head === "new" || (head && !second)) {
    const { workflowEditor } = await import("../components/workflow-editor.js");
    return workflowEditor(root, ctx, head === "new" ? null : head);
  }
  const live = (onEvent) => {
    let stop = null;
    let alive = true;
    ctx.ws?.subscribe("subscribe_events", { event_type: "workflow.*" }, (msg) => onEvent(msg.event || {}))
      .then((unsubscribe) => { if (alive) stop = unsubscribe; else unsubscribe(); })
      .catch(() => {});
    return () => {
      alive = false;
      stop?.();
    };
  };
  if (head && second === "runs") {
    const runs = await import("../components/workflow-runs.js");
    if (third) {
      view = runs.traceView(root, ctx, head, third);
      const stop = live((event) => { if (event.data?.run_id === third || event.run_id === third) view.refresh(); });
      return () => { stop(); view.stop(); };
    }
    const workflow = await ctx.api.get(`/api/workflows/${encodeURIComponent(head)}`);
    view = runs.runsView(root, ctx, workflow);
    let timer = null;
    const stop = live((event) => {
      if ((event.data?.workflow_id ?? event.workflow_id) !== head) return;
      clearTimeout(timer);
      timer = setTimeout(() => view.refresh(), 150);
    });
    return () => { stop(); clearTimeout(timer); view.stop(); };
  }
  return list(root, ctx, live);
}

async function list(root, ctx, live) {
  const { t } = ctx;
  let alive = true;
  let timer = null;
  const items = h("ul", { class: "wf-list-page", "aria-label": t("workflows.title") });
  const empty = h("p", { class: "muted", hidden: true }, t("workflows.empty"));
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  root.append(
    h("header", { class: "wf-head" },
      h("h1", {}, t("workflows.title")),
      h("a", { class: "button primary", href: "#/workflows/new" }, t("workflows.new"))),
    h("p", { class: "muted wf-intro" }, t("workflows.intro")),
    problem, empty, items);

  async function reload() {
    try {
      const answer = await ctx.api.get("/api/workflows");
      if (!alive) return;
      const workflows = (answer.workflows || []).slice()
        .sort((a, b) => (a.name || "").localeCompare(b.name || "", ctx.lang));
      const focused = items.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
      clear(items).append(...workflows.map(item));
      empty.hidden = workflows.length > 0;
      problem.hidden = true;
      if (focused) [...items.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === focused)?.focus();
    } catch (err) {
      if (!alive) return;
      problem.textContent = errorText(err);
      problem.hidden = false;
    }
  }

  function item(wf) {
    const path = `/api/workflows/${encodeURIComponent(wf.id)}`;
    const status = wf.status || {};
    const last = status.last_run;
    const toggle = h("button", {
      type: "button", role: "switch", class: "switch", "aria-checked": String(Boolean(wf.enabled)),
      "aria-label": t("workflows.enabled_named", { name: wf.name }),
      onclick: async () => {
        toggle.disabled = true;
        try {
          await ctx.api.post(`${path}/enable`, { enabled: !wf.enabled });
          await reload();
        } catch (err) {
          ctx.toast(errorText(err), "error");
          toggle.disabled = false;
        }
      },
    });
    const runNow = h("button", { type: "button", "aria-label": t("workflows.run_now_named", { name: wf.name }), onclick: async () => {
      runNow.disabled = true;
      try {
        const answer = await ctx.api.post(`${path}/run`);
        ctx.toast(t("workflows.started", { name: wf.name }), "info");
        ctx.navigate(`workflows/${encodeURIComponent(wf.id)}/runs/${encodeURIComponent(answer.run_id)}`);
      } catch (err) {
        ctx.toast(errorText(err), "error");
        runNow.disabled = false;
      }
    } }, t("workflows.run_now"));
    const remove = h("button", { type: "button", class: "danger", "aria-label": t("workflows.delete_named", { name: wf.name }),
      onclick: async () => {
        const sure = await confirmDialog(t("workflows.delete_question", { name: wf.name }), t("workflows.delete"),
          t("workflows.cancel"), t("workflows.delete_details"));
        if (!sure) return;
        try {
          await ctx.api.del(path);
          ctx.toast(t("workflows.deleted", { name: wf.name }), "info");
          await reload();
        } catch (err) {
          ctx.toast(errorText(err), "error");
        }
      } }, t("workflows.delete"));
    const lastRun = last
      ? h("a", { class: "wf-last", href: `#/workflows/${encodeURIComponent(wf.id)}/runs/${encodeURIComponent(last.id)}` },
        statusBadge(last.status, t), " ", when(last.started_at, ctx.lang),
        last.duration_ms !== null && last.duration_ms !== undefined ? ` · ${duration(last.duration_ms, ctx.lang)}` : null)
      : h("span", { class: "muted" }, t("workflows.never_ran"));
    const facts = [
      t(`workflows.mode_${wf.mode}`),
      wf.household ? t("workflows.household_badge") : null,
      status.running ? t("workflows.running_now", { n: status.running }) : null,
      status.next_fire ? t("workflows.next_fire", { time: when(status.next_fire, ctx.lang) }) : null,
      status.missed_fires ? t("workflows.missed_fires", { n: status.missed_fires }) : null,
      status.skipped ? t("workflows.skipped_triggers", { n: status.skipped }) : null,
    ].filter(Boolean).join(" · ");
    return h("li", {},
      h("article", { class: `card wf-item${wf.enabled ? "" : " wf-item--off"}`, "aria-label": wf.name, dataset: { id: wf.id } },
        h("div", { class: "wf-item__top" },
          toggle,
          h("div", { class: "wf-item__name" },
            h("h2", {}, h("a", { href: `#/workflows/${encodeURIComponent(wf.id)}/runs` }, wf.name)),
            wf.description ? h("p", { class: "muted wf-item__desc" }, wf.description) : null)),
        wf.disabled_reason === "looped"
          ? h("p", { class: "wf-warning", role: "note" }, t("workflows.looped_warning")) : null,
        h("p", { class: "wf-item__facts muted" }, facts),
        h("p", { class: "wf-item__last" }, h("span", {}, t("workflows.last_run")), " ", lastRun),
        h("div", { class: "wf-item__tools" },
          runNow,
          h("a", { class: "button", href: `#/workflows/${encodeURIComponent(wf.id)}`,
            "aria-label": t("workflows.edit_named", { name: wf.name }) }, t("workflows.edit")),
          h("a", { class: "button", href: `#/workflows/${encodeURIComponent(wf.id)}/runs`,
            "aria-label": t("workflows.history_named", { name: wf.name }) }, t("workflows.history")),
          remove)));
  }

  await reload();
  const stop = live(() => {
    clearTimeout(timer);
    timer = setTimeout(() => reload(), 150);
  });
  return () => {
    alive = false;
    clearTimeout(timer);
    stop();
  };
}
