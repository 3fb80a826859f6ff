// The config-flow wizard: renders any serialized flow step in a modal <dialog>, generically (its fields: flow-fields.js).
//
// Labels, descriptions and errors arrive localized from the server; only the wizard's own words
// (buttons, hints) come from i18n/<lang>/wizard.json. Nothing here uses innerHTML.

import { h, clear, append } from "../dom.js";
import { errorText } from "../errors.js";
import { applyVisibility, renderField } from "./flow-fields.js";

export { FIELD_TYPES } from "./flow-fields.js";

let counter = 0;

/**
 * Open the wizard on the first step that ``start(signal)`` resolves to (a serialized flow result).
 *
 * ``start`` is e.g. ``(signal) => ctx.api.post("/api/config-flows", {domain, language: ctx.lang}, {signal})``.
 * ``title`` heads the dialog until the first step arrives (and on an abort, which has none).
 * ``onDone(result)`` runs after an entry was created or updated; ``successMessage(result, entry)``
 * words the toast then (``entry`` is the entry as it is now, or null). Returns ``{ close, done }``:
 * ``close()`` cancels (stops waiting, and abandons the flow on the server), ``done`` resolves to
 * the final result (``create_entry`` or ``abort``), or ``null`` when the person cancelled.
 *
 * Steps are rendered generically: a form (fields, errors under them, ``show_when`` rules), a menu
 * (one button per option, its answer ``{next_step_id}``), an abort (its sentence), or the entry.
 */
export function openFlow(ctx, start, { title: heading = null, onDone = () => {}, successMessage = null } = {}) {
  const { t } = ctx;
  const uid = `wf${++counter}`;
  let current = null; // the step on screen
  let flowId = null;
  let steps = 0;
  let lastStepId = null;
  let finished = false;
  let waiting = null; // the AbortController of the request in flight
  const typed = {}; // step id → what the person typed there, so "Back" keeps it
  let settle;
  const done = new Promise((resolve) => { settle = resolve; });

  // Until the first step names itself (and for an abort, which has no title), the caller's heading.
  const title = h("h2", { id: `${uid}-title` }, heading || t("wizard.loading"));
  const progress = h("p", { class: "wizard-progress", hidden: true });
  const closeButton = h("button", {
    type: "button", class: "wizard-x", "aria-label": t("wizard.close_dialog"), onclick: () => cancel(),
  }, "×");
  const status = h("p", { class: "wizard-waiting", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "wizard-body" });
  const dlg = h("dialog", { class: "wizard", "aria-labelledby": `${uid}-title`, "aria-modal": "true" },
    h("header", { class: "wizard-head" }, h("div", {}, title, progress), closeButton), status, body);
  dlg.addEventListener("cancel", (event) => { event.preventDefault(); cancel(); });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();

  function finish(result) {
    if (finished) return;
    finished = true;
    if (dlg.open) dlg.close();
    settle(result);
  }

  function cancel() {
    if (finished) return;
    waiting?.abort(); // stop waiting on a slow server at once
    if (flowId && current?.type !== "abort") {
      ctx.api.del(`/api/config-flows/${encodeURIComponent(flowId)}`).catch(() => {});
    }
    finish(null);
  }

  /** Wait on the server: a spinner and a sentence, the step's own controls off, Cancel still on. */
  function busy(on, message = t("wizard.waiting")) {
    dlg.setAttribute("aria-busy", on ? "true" : "false");
    clear(status);
    if (on) append(status, [h("span", { class: "spinner", "aria-hidden": "true" }), message]);
    status.hidden = !on;
    for (const control of body.querySelectorAll("button, input, select, textarea")) {
      if (control.dataset.keep === "1") continue; // Cancel works while waiting
      if (on) control.dataset.wasDisabled = control.disabled ? "1" : "";
      control.disabled = on ? true : control.dataset.wasDisabled === "1";
    }
  }

  async function request(run, message) {
    waiting = new AbortController();
    const { signal } = waiting;
    busy(true, message);
    try {
      const answer = await run(signal);
      if (!signal.aborted) show(answer);
    } catch (err) {
      if (signal.aborted || finished) return;
      busy(false);
      showSubmitError(err);
    } finally {
      if (waiting?.signal === signal) waiting = null;
    }
  }

  function show(result) {
    if (finished) return;
    busy(false);
    flowId = result?.flow_id || flowId;
    if (result?.type === "create_entry") {
      finished = true;
      if (dlg.open) dlg.close();
      settle(result);
      announce(result).finally(() => Promise.resolve().then(() => onDone(result)).catch(() => {}));
      return;
    }
    if (result?.type === "abort") {
      current = result;
      showAbort(result);
      return;
    }
    if (result?.type !== "form" && result?.type !== "menu") {
      showProblem(t("wizard.unexpected"), result?.correlation_id);
      return;
    }
    let carried = null;
    if (result.step_id !== lastStepId) {
      steps += 1;
      lastStepId = result.step_id;
    }
    carried = typed[result.step_id] || null; // what was typed here before, e.g. before "Back"
    current = result;
    if (result.type === "menu") renderMenu(result);
    else renderForm(result, carried);
  }

  /** The toast after an entry: added and working, or added and what is still in the way. */
  async function announce(result) {
    let entry = null;
    if (result.entry_id) {
      entry = await ctx.api.get(`/api/config-entries/${encodeURIComponent(result.entry_id)}`).catch(() => null);
    }
    const name = entry?.title || result.title || "";
    const message = successMessage ? successMessage(result, entry) : t("wizard.entry_created", { title: name });
    const waitingFor = entry && !entry.disabled && entry.state !== "loaded" ? entry.state : null;
    const extra = waitingFor ? t(`wizard.after_${waitingFor}`, { title: name }) : "";
    ctx.toast(extra && !extra.startsWith("wizard.") ? `${message} ${extra}` : message, waitingFor ? "warn" : "info");
  }

  function showAbort(result) {
    title.textContent = result.title || title.textContent;
    progress.hidden = true;
    const close = h("button", { type: "button", class: "primary", onclick: () => finish(result) }, t("wizard.close"));
    append(clear(body), [
      h("p", { class: "wizard-abort", role: "alert" }, result.description || t("wizard.aborted")),
      result.correlation_id ? reference(result.correlation_id) : null,
      h("div", { class: "actions" }, close),
    ]);
    close.focus();
  }

  function showProblem(message, correlationId) {
    progress.hidden = true;
    const close = h("button", { type: "button", class: "primary", onclick: () => finish(null) }, t("wizard.close"));
    append(clear(body), [
      h("p", { class: "wizard-abort error", role: "alert" }, message || t("wizard.unexpected")),
      correlationId ? reference(correlationId) : null,
      h("div", { class: "actions" }, close),
    ]);
    close.focus();
  }

  function reference(id) {
    return h("p", { class: "wizard-reference" }, t("wizard.error_reference", { correlation_id: id }));
  }

  function header(step) {
    title.textContent = step.title || heading || "";
    progress.textContent = t("wizard.step", { n: steps });
    progress.hidden = false;
  }

  function baseErrors(step, names = new Set()) {
    // "base" and errors for fields this step does not show go on top, so none is lost.
    const messages = Object.entries(step.errors || {})
      .filter(([name]) => name === "base" || !names.has(name))
      .map(([, message]) => message);
    const top = h("div", { class: "wizard-base-error", role: "alert", hidden: messages.length === 0 },
      messages.map((message) => h("p", {}, message)),
      messages.length && step.correlation_id ? reference(step.correlation_id) : null);
    if (messages.length) top.setAttribute("tabindex", "-1");
    return top;
  }

  function cancelButton() {
    return h("button", { type: "button", dataset: { keep: "1" }, onclick: () => cancel() }, t("wizard.cancel"));
  }

  function renderMenu(step) {
    header(step);
    const top = baseErrors(step);
    const choices = (step.menu_options || []).map((option, index) => h("button", {
      type: "button", class: index === 0 ? "primary" : "",
      onclick: () => request((signal) => ctx.api.post(`/api/config-flows/${encodeURIComponent(step.flow_id)}`, {
        user_input: { next_step_id: option.id }, language: ctx.lang,
      }, { signal })),
    }, option.label || option.id));
    append(clear(body), [
      step.description ? h("p", { class: "wizard-description" }, step.description) : null,
      top,
      h("div", { class: "wizard-menu", role: "group", "aria-labelledby": `${uid}-title` }, choices),
      h("div", { class: "actions" }, cancelButton()),
    ]);
    (top.hidden ? choices[0] : top)?.focus();
  }

  function renderForm(step, carried) {
    header(step);
    const errors = step.errors || {};
    const schema = step.data_schema || [];
    const top = baseErrors(step, new Set(schema.map((field) => field.name)));
    const controls = schema.map((field) =>
      renderField(field, errors[field.name], carried?.[field.name], { uid, t, ctx }));
    const submit = h("button", { type: "submit", class: "primary" }, t("wizard.submit"));
    const form = h("form", { class: "wizard-form", novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      submitForm(step, controls, form, top);
    } },
    step.description ? h("p", { class: "wizard-description" }, step.description) : null,
    top,
    controls.map((control) => control.element),
    h("div", { class: "actions" }, cancelButton(), submit));
    append(clear(body), [form]);
    applyVisibility(controls);
    for (const control of controls) {
      for (const input of control.inputs || []) input.addEventListener("change", () => applyVisibility(controls));
    }

    // Focus what needs attention: a form-wide error first, then the first field with an error.
    const target = (top.hidden ? null : top) || form.querySelector("[aria-invalid=true]")
      || form.querySelector("input:not([type=checkbox]), select, textarea") || submit;
    target.focus();
  }

  async function submitForm(step, controls, form, top) {
    const userInput = {};
    const raw = {};
    for (const control of controls) {
      if (!control.read) continue;
      raw[control.name] = control.snapshot();
      if (control.element.hidden) continue; // a field that does not apply is not sent
      const { include, value } = control.read();
      if (include) userInput[control.name] = value;
    }
    typed[step.step_id] = raw;
    // The answer replaces the last one: an old error must not stay on screen meanwhile.
    clear(top).hidden = true;
    for (const field of form.querySelectorAll(".wizard-field.invalid")) field.classList.remove("invalid");
    for (const note of form.querySelectorAll(".wizard-error")) note.remove();
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    await request((signal) => ctx.api.post(`/api/config-flows/${encodeURIComponent(step.flow_id)}`, {
      user_input: userInput,
      language: ctx.lang,
    }, { signal }));
  }

  function showSubmitError(err) {
    const top = body.querySelector(".wizard-base-error");
    if (err?.status === 404 || !top) {
      // The flow expired or vanished: nothing left to resubmit.
      showProblem(err?.status === 404 ? t("wizard.expired") : errorText(err));
      return;
    }
    append(clear(top), [h("p", {}, errorText(err))]);
    top.hidden = false;
    top.setAttribute("tabindex", "-1");
    top.focus();
  }

  request((signal) => Promise.resolve().then(() => start(signal)), t("wizard.loading"));

  return { close: cancel, done };
}
