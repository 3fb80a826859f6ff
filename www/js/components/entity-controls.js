// The one renderer of a live entity's controls: a switch, a slider with its step buttons, a value
// field, buttons and forms for the actions its type declares. The entities page and the dashboards
// both use it, so the same entity looks and behaves the same wherever it is shown.
//
// Controls are rebuilt only when their shape changes (another set of actions, other bounds);
// a new state only moves the switch and the slider. Events are delegated: one listener per page.

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";

const SWITCH_ACTIONS = ["toggle", "turn_on", "turn_off"];
const STEP_ACTIONS = { decrement: "−", increment: "+" };

/**
 * Controls for entities in the REST shape, labelled by ``text`` (entity-text.js).
 * ``entityOf(element)`` finds the entity a control belongs to (from its ``data-entity-id``);
 * ``onResult(entity)`` gets the entity an action answered with, before the stream brings it.
 */
export function entityControls(ctx, text, { entityOf, onResult }) {
  const { t } = ctx;
  const shapes = new WeakMap(); // container → the shape its controls were built for

  function isOn(entity) {
    return entity.state === "on" || entity.state === true;
  }

  function toggles(entity, names) {
    const state = entity.state;
    return (state === "on" || state === "off" || typeof state === "boolean") && SWITCH_ACTIONS.some((n) => names.includes(n));
  }

  function numberField(action) {
    const fields = (action.fields || []).filter((f) => f.type !== "note");
    return fields.length === 1 && fields[0].type === "number" ? fields[0] : null;
  }

  function bounds(entity) {
    const a = entity.attributes || {};
    const ok = (v) => typeof v === "number" && Number.isFinite(v);
    return ok(a.min) && ok(a.max) && a.max > a.min ? { min: a.min, max: a.max, step: ok(a.step) && a.step > 0 ? a.step : "any" } : null;
  }

  function shapeOf(entity, actions, label) {
    const names = actions.map((a) => a.name);
    const setter = actions.find((a) => a.name === "set_value" && numberField(a));
    const range = setter ? bounds(entity) : null;
    return [toggles(entity, names), range && `${range.min}:${range.max}:${range.step}`, label,
      actions.map((a) => `${a.name}=${a.label}`).join()].join("|");
  }

  /** Build or update ``container``'s controls for ``entity``; ``label`` names them for screen readers. */
  function fill(container, entity, label) {
    const actions = text.actions(entity);
    const shape = shapeOf(entity, actions, label);
    if (shapes.get(container) !== shape) {
      shapes.set(container, shape);
      clear(container);
      if (actions.length) container.append(h("div", { class: "entity__actions" }, build(entity, actions, label)));
    }
    if (!actions.length) return;
    const sw = container.querySelector("[role=switch]");
    if (sw) sw.setAttribute("aria-checked", String(isOn(entity)));
    const slider = container.querySelector("input[type=range]");
    if (slider && document.activeElement !== slider && typeof entity.state === "number") {
      slider.value = String(entity.state);
      slider.setAttribute("aria-valuetext", text.state(entity));
    }
    const number = container.querySelector("input[data-field-number]");
    if (number && document.activeElement !== number && typeof entity.state === "number") number.value = String(entity.state);
  }

  function build(entity, actions, label) {
    const out = [];
    const names = actions.map((a) => a.name);
    const switches = toggles(entity, names);
    if (switches) {
      out.push(h("button", {
        type: "button", role: "switch", class: "switch", "data-act": "switch",
        "aria-checked": String(isOn(entity)), "aria-label": label,
      }));
    }
    const setter = actions.find((a) => a.name === "set_value" && numberField(a));
    const range = setter ? bounds(entity) : null;
    // A number with bounds is one compact control: − slider +, as Home Assistant's number slider.
    const stepped = range ? actions.filter((a) => a.name in STEP_ACTIONS && !numberField(a) && !(a.fields || []).length) : [];
    const named = (action) => t("entities.action_of", { action: action.label, name: label });
    for (const action of actions) {
      if (switches && SWITCH_ACTIONS.includes(action.name)) continue;
      if (stepped.includes(action)) continue;
      const fields = (action.fields || []).filter((f) => f.type !== "note");
      if (action === setter) {
        const single = numberField(action);
        if (range) {
          const step = (a) => h("button", {
            type: "button", class: "entity__step", "data-act": "press", "data-action": a.name,
            "aria-label": named(a), title: a.label,
          }, STEP_ACTIONS[a.name]);
          const down = stepped.find((a) => a.name === "decrement");
          const up = stepped.find((a) => a.name === "increment");
          out.push(h("span", { class: "entity__range" },
            down ? step(down) : null,
            h("input", {
              type: "range", class: "entity__slider", "data-act": "slider", "data-action": action.name,
              "data-field": single.name, min: range.min, max: range.max, step: range.step,
              value: typeof entity.state === "number" ? String(entity.state) : String(range.min),
              "aria-label": named(action), "aria-valuetext": text.state(entity),
            }),
            up ? step(up) : null));
        } else {
          out.push(h("form", { class: "entity__form entity__form--inline", "data-act": "form", "data-action": action.name },
            h("input", {
              type: "number", step: "any", name: single.name, "data-kind": "number", "data-field-number": "",
              value: typeof entity.state === "number" ? String(entity.state) : "", "aria-label": named(action), required: true,
            }),
            h("button", { type: "submit", "aria-label": named(action) }, t("entities.set"))));
        }
      } else if (!fields.length) {
        out.push(h("button", { type: "button", "data-act": "press", "data-action": action.name, "aria-label": named(action) }, action.label));
      } else {
        out.push(h("details", { class: "entity__more" },
          h("summary", { "aria-label": named(action) }, action.label),
          h("form", { class: "entity__form", "data-act": "form", "data-action": action.name },
            fields.map(fieldInput),
            h("button", { type: "submit", class: "primary" }, t("entities.run")))));
      }
    }
    return out;
  }

  function fieldInput(field) {
    const common = { name: field.name, "data-kind": field.multiple && field.type !== "select" ? "list" : field.type };
    if (field.type === "bool") {
      const input = h("input", { ...common, type: "checkbox", checked: field.default === true });
      return h("label", { class: "entity__field entity__field--check" }, input, " ", field.label);
    }
    let input;
    if (field.type === "select") {
      input = h("select", { ...common, multiple: field.multiple || undefined, required: field.required || undefined },
        (field.options || []).map((o) => h("option", { value: o.value, selected: o.value === field.default }, o.label)));
    } else if (field.multiline) {
      input = h("textarea", { ...common, rows: 2, required: field.required || undefined, placeholder: field.placeholder || undefined });
    } else {
      const type = { number: "number", password: "password", secret: "password", date: "date", time: "time", datetime: "datetime-local", color: "color" }[field.type] || "text";
      input = h("input", {
        ...common, type, step: type === "number" ? "any" : undefined, required: field.required || undefined,
        placeholder: field.placeholder || undefined, value: field.default ?? undefined,
      });
    }
    return h("label", { class: "entity__field" }, h("span", {}, field.label), input);
  }

  function formArgs(form) {
    const args = {};
    for (const input of form.querySelectorAll("[name]")) {
      const kind = input.dataset.kind;
      if (kind === "bool") args[input.name] = input.checked;
      else if (input.multiple) args[input.name] = [...input.selectedOptions].map((o) => o.value);
      else if (input.value === "") continue;
      else if (kind === "number") args[input.name] = Number(input.value);
      else if (kind === "list") args[input.name] = input.value.split(",").map((v) => v.trim()).filter(Boolean);
      else args[input.name] = input.value;
    }
    return args;
  }

  async function act(entity, action, args, control) {
    control?.setAttribute("aria-busy", "true");
    try {
      const answer = await ctx.api.post(`/api/entities/${entity.id}/action`, { action, args });
      if (answer && answer.entity) onResult?.(answer.entity);
    } catch (err) {
      ctx.toast(t("entities.action_failed", { name: text.name(entity), message: errorText(err) }), "error");
      // Put a moved slider back where the entity really is.
      if (control?.type === "range" && typeof entity.state === "number") control.value = String(entity.state);
    } finally {
      control?.removeAttribute("aria-busy");
    }
  }

  function onClick(event) {
    const target = event.target.closest("[data-act]");
    if (!target || target.tagName === "FORM" || target.type === "range") return;
    const kind = target.dataset.act;
    if (kind !== "press" && kind !== "switch") return;
    const entity = entityOf(target);
    if (!entity) return;
    if (kind === "press") act(entity, target.dataset.action, {}, target);
    else {
      const names = text.actions(entity).map((a) => a.name);
      const wanted = isOn(entity) ? "turn_off" : "turn_on";
      act(entity, names.includes(wanted) ? wanted : "toggle", {}, target);
    }
  }

  function onInput(event) {
    const target = event.target;
    if (target.type !== "range" || target.dataset.act !== "slider") return;
    const entity = entityOf(target);
    if (entity) target.setAttribute("aria-valuetext", text.state({ ...entity, state: Number(target.value) }));
  }

  function onChange(event) {
    const target = event.target;
    if (target.type !== "range" || target.dataset.act !== "slider") return;
    const entity = entityOf(target);
    if (entity) act(entity, target.dataset.action, { [target.dataset.field]: Number(target.value) }, target);
  }

  function onSubmit(event) {
    const form = event.target;
    if (form.dataset.act !== "form") return;
    event.preventDefault();
    const entity = entityOf(form);
    if (entity) act(entity, form.dataset.action, formArgs(form), form);
  }

  /** Answer the controls inside ``root`` (one set of listeners for every entity in it). */
  function listen(root) {
    root.addEventListener("click", onClick);
    root.addEventListener("input", onInput);
    root.addEventListener("change", onChange);
    root.addEventListener("submit", onSubmit);
  }

  /** Label with a newer catalog from now on (a new integration or device appeared). */
  function setText(next) {
    text = next;
  }

  return { fill, listen, setText };
}
