// A webhook entry's settings under its URL: the delivery log (with replay) and the mapping editor.
//
// The editor reuses the entry's reconfigure flow: its form brings the current mapping and the
// field labels in the person's language, and saving submits the same form. "Test with the last
// delivery" asks the hub what the unsaved mapping makes of the newest logged body.

import { h, clear, append, when } from "../dom.js";
import { errorText } from "../errors.js";

const MAPPING = ["entities", "entity_id", "entity_name", "entity_state", "entity_attributes", "event_type", "event_data"];
const PAGE = 20;

/** The settings block for ``entry`` (a ``webhook`` entry the person may manage). */
export function webhookSettings(ctx, entry) {
  const { t } = ctx;
  const base = `/api/config-entries/${encodeURIComponent(entry.entry_id)}`;
  const log = h("div", { class: "webhook-deliveries" });
  const refresh = h("button", { type: "button", "aria-label": t("wizard.webhook_refresh_log", { title: entry.title }),
    onclick: () => loadLog() }, t("wizard.webhook_refresh"));
  const editor = h("div", { class: "webhook-mapping" });
  const edit = h("button", { type: "button", "aria-label": t("wizard.webhook_edit_mapping", { title: entry.title }),
    onclick: () => openEditor() }, t("wizard.webhook_mapping_open"));
  const root = h("div", { class: "webhook-settings" },
    h("section", { "aria-label": t("wizard.webhook_deliveries") },
      h("div", { class: "webhook-row" }, h("h3", {}, t("wizard.webhook_deliveries")), refresh),
      log),
    h("section", { "aria-label": t("wizard.webhook_mapping") },
      h("div", { class: "webhook-row" }, h("h3", {}, t("wizard.webhook_mapping")), edit),
      editor));
  let flowId = null;

  async function loadLog() {
    refresh.disabled = true;
    try {
      const answer = await ctx.api.get(`${base}/deliveries?limit=${PAGE}`);
      const rows = answer?.deliveries || [];
      append(clear(log), rows.length
        ? [h("ul", { class: "webhook-log" }, rows.map(delivery))]
        : [h("p", { class: "muted" }, t("wizard.webhook_no_deliveries"))]);
    } catch (err) {
      append(clear(log), [h("p", { class: "error" }, errorText(err))]);
    } finally {
      refresh.disabled = false;
    }
  }

  function delivery(row) {
    const at = when(new Date(row.received_at * 1000).toISOString(), ctx.lang);
    const outcome = t(`wizard.webhook_outcome_${row.outcome}`);
    const counts = row.counts ? Object.entries(row.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") : "";
    const replay = h("button", {
      type: "button", disabled: row.truncated,
      title: row.truncated ? t("wizard.webhook_replay_truncated") : undefined,
      "aria-label": t("wizard.webhook_replay_label", { id: row.delivery_id || row.id }),
      onclick: async () => {
        replay.disabled = true;
        try {
          await ctx.api.post(`${base}/deliveries/${encodeURIComponent(row.id)}/replay`);
          ctx.toast(t("wizard.webhook_replayed"), "info");
        } catch (err) {
          ctx.toast(errorText(err), "error");
        } finally {
          replay.disabled = false;
          await loadLog();
        }
      },
    }, t("wizard.webhook_replay"));
    const headers = Object.entries(row.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
    return h("li", { dataset: { outcome: row.outcome } },
      h("details", { class: "webhook-delivery" },
        h("summary", {},
          h("span", { class: `badge outcome-${row.outcome}` }, outcome), " ",
          at, " · ", row.remote || "?", " · ", row.delivery_id || t("wizard.webhook_no_delivery_id"),
          row.replay ? ` · ${t("wizard.webhook_was_replay")}` : null,
          ` · ${row.status}`, counts ? ` · ${counts}` : null,
          row.reason ? h("span", { class: "webhook-reason" }, ` — ${row.reason}`) : null),
        h("h4", {}, t("wizard.webhook_headers")),
        h("pre", { class: "webhook-pre" }, headers || "—"),
        h("h4", {}, row.truncated ? t("wizard.webhook_body_truncated", { size: row.body_size }) : t("wizard.webhook_body")),
        h("pre", { class: "webhook-pre" }, pretty(row.body)),
        h("div", { class: "actions" }, replay)));
  }

  async function openEditor() {
    edit.disabled = true;
    append(clear(editor), [h("p", { class: "muted" }, t("wizard.loading"))]);
    try {
      await closeFlow();
      const form = await ctx.api.post(`${base}/reconfigure`, { language: ctx.lang });
      flowId = form.flow_id;
      renderEditor(form);
    } catch (err) {
      append(clear(editor), [h("p", { class: "error" }, errorText(err))]);
      edit.disabled = false;
    }
  }

  function renderEditor(form) {
    const fields = form.data_schema || [];
    const preset = fields.find((f) => f.name === "preset");
    const chosen = preset?.options?.find((o) => o.value === preset.default);
    const inputs = new Map();
    const problems = new Map();
    const rows = fields.filter((f) => MAPPING.includes(f.name)).map((field) => {
      const id = `wh-${entry.entry_id}-${field.name}`;
      const attrs = { id, name: field.name, value: field.default ?? "", autocomplete: "off", spellcheck: "false",
        "aria-describedby": `${id}-help ${id}-error` };
      const input = field.multiline ? h("textarea", { ...attrs, rows: 3 }) : h("input", { ...attrs, type: "text" });
      const problem = h("p", { class: "error", id: `${id}-error`, role: "alert", hidden: true });
      inputs.set(field.name, input);
      problems.set(field.name, problem);
      return h("div", { class: "field" }, h("label", { for: id }, field.label), input,
        h("p", { class: "muted", id: `${id}-help` }, field.description || ""), problem);
    });
    const result = h("div", { class: "webhook-preview", "aria-live": "polite" });
    const values = () => Object.fromEntries([...inputs].map(([name, input]) => [name, input.value]));
    const test = h("button", { type: "button", onclick: async () => {
      test.disabled = true;
      try {
        const answer = await ctx.api.post(`${base}/webhook/preview`, { options: values() });
        showPreview(result, answer.preview);
      } catch (err) {
        append(clear(result), [h("p", { class: "error", role: "alert" }, errorText(err))]);
      } finally {
        test.disabled = false;
      }
    } }, t("wizard.webhook_test"));
    const save = h("button", { type: "button", class: "primary", onclick: async () => {
      save.disabled = true;
      for (const p of problems.values()) p.hidden = true;
      try {
        const answer = await ctx.api.post(`/api/config-flows/${encodeURIComponent(flowId)}`, { user_input: values() });
        if (answer.type === "create_entry") {
          flowId = null;
          ctx.toast(t("wizard.webhook_mapping_saved", { title: entry.title }), "info");
          clear(editor);
          edit.disabled = false;
          return;
        }
        for (const [name, text] of Object.entries(answer.errors || {})) {
          const p = problems.get(name);
          if (p) { p.textContent = text; p.hidden = false; inputs.get(name)?.setAttribute("aria-invalid", "true"); }
          else ctx.toast(text, "error");
        }
      } catch (err) {
        ctx.toast(errorText(err), "error");
      } finally {
        save.disabled = false;
      }
    } }, t("wizard.save"));
    const cancel = h("button", { type: "button", onclick: async () => {
      await closeFlow();
      clear(editor);
      edit.disabled = false;
    } }, t("wizard.cancel"));
    append(clear(editor), [
      h("p", {}, t("wizard.webhook_scheme", { preset: chosen?.label || preset?.default || "" })),
      rows.length ? rows : h("p", { class: "muted" }, t("wizard.webhook_no_mapping")),
      h("div", { class: "actions" }, cancel, test, rows.length ? save : null),
      result,
    ]);
  }

  function showPreview(target, preview) {
    const entities = preview?.entities || [];
    const event = preview?.event?.data || null;
    append(clear(target), [
      h("p", {}, t("wizard.webhook_preview_counts", { n: entities.length, event: event?.event_type || "—" })),
      entities.length
        ? h("table", { class: "webhook-preview-table" },
          h("thead", {}, h("tr", {}, h("th", {}, t("wizard.webhook_col_id")), h("th", {}, t("wizard.webhook_col_name")),
            h("th", {}, t("wizard.webhook_col_state")), h("th", {}, t("wizard.webhook_col_attributes")))),
          h("tbody", {}, entities.map((e) => h("tr", {},
            h("td", {}, e.external_id), h("td", {}, e.name), h("td", {}, e.state === null ? "—" : String(e.state)),
            h("td", {}, h("code", {}, JSON.stringify(e.attributes || {})))))))
        : null,
      event ? h("pre", { class: "webhook-pre" }, JSON.stringify(event.event_data ?? {}, null, 2)) : null,
    ]);
  }

  async function closeFlow() {
    if (!flowId) return;
    const id = flowId;
    flowId = null;
    try { await ctx.api.del(`/api/config-flows/${encodeURIComponent(id)}`); } catch { /* expired: nothing to abort */ }
  }

  loadLog();
  return root;
}

function pretty(body) {
  if (!body) return "—";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}
