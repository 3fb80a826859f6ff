// The config-flow form's fields: one renderer per field type, and the ``show_when`` visibility rule.
//
// Labels, descriptions and errors arrive localized from the server; only the wizard's own words
// come from i18n/<lang>/wizard.json. Nothing here uses innerHTML.

import { h, clear } from "../dom.js";

const INPUT_TYPES = { date: "date", time: "time", datetime: "datetime-local", color: "color" };

/**
 * One field of a form step, laid out with its label, hint and error: ``{element, inputs, read(), snapshot()}``.
 *
 * ``uid`` is the dialog's id prefix; ``carried`` what was typed into this field before (e.g. before "Back").
 */
export function renderField(field, error, carried, { uid, t, ctx }) {
  const id = `${uid}-${field.name}`;
  const describedBy = [];
  const extras = [];
  if (field.description) {
    extras.push(h("p", { class: "wizard-hint", id: `${id}-desc` }, field.description));
    describedBy.push(`${id}-desc`);
  }
  const renderer = RENDERERS[field.type] || RENDERERS.text;
  const control = renderer({ field, id, t, ctx, carried, extras, describedBy });
  control.name = field.name;
  control.field = field;
  if (error) {
    extras.push(h("p", { class: "wizard-error", id: `${id}-error` }, error));
    describedBy.push(`${id}-error`);
  }
  for (const input of control.inputs || []) {
    if (describedBy.length) input.setAttribute("aria-describedby", describedBy.join(" "));
    if (error) input.setAttribute("aria-invalid", "true");
    if (field.required && input.type !== "checkbox") input.setAttribute("aria-required", "true");
  }
  const optional = !field.required && field.type !== "note" && field.type !== "bool"
    ? h("span", { class: "wizard-optional" }, t("wizard.optional"))
    : null;
  const classes = ["wizard-field", `wizard-${field.type}`, error ? "invalid" : ""].filter(Boolean).join(" ");
  if (control.fieldset) {
    control.element = h("fieldset", { class: classes, "aria-describedby": describedBy.join(" ") || undefined },
      h("legend", {}, field.label, optional ? " " : null, optional), control.fieldset, extras);
  } else if (control.inline) {
    control.element = h("div", { class: classes }, h("div", { class: "wizard-inline" }, control.inputs[0],
      h("label", { for: id }, field.label), optional), extras);
  } else if (control.display) {
    control.element = h("div", { class: classes }, control.display, extras);
  } else {
    control.element = h("div", { class: classes },
      h("div", { class: "wizard-label" }, h("label", { for: id }, field.label), optional),
      control.widget || control.inputs[0], extras);
  }
  return control;
}

/** Show only the fields whose ``show_when`` rule holds for what the form holds now. */
export function applyVisibility(controls) {
  const values = {};
  for (const control of controls) if (control.read) values[control.name] = control.snapshot();
  for (const control of controls) {
    const rule = control.field.show_when;
    if (!rule) continue;
    const shown = Object.entries(rule).every(([name, allowed]) => allowed.some((value) => same(values[name], value)));
    control.element.hidden = !shown;
  }
}

function same(actual, wanted) {
  // A number typed into a text box is a string; a select keeps the option's own type.
  return actual === wanted || (actual !== null && actual !== undefined && String(actual) === String(wanted));
}

// One renderer per field type: each returns {inputs, read(), snapshot()} plus how to lay it out.

function initial(field, carried, fallback = "") {
  if (carried !== undefined && carried !== null) return carried;
  return field.default ?? fallback;
}

function textRenderer({ field, id, carried }) {
  const attrs = {
    id, name: field.name, placeholder: field.placeholder || undefined,
    value: String(initial(field, carried) ?? ""), required: field.required,
  };
  const input = field.multiline ? h("textarea", { ...attrs, rows: 4 }) : h("input", { ...attrs, type: "text" });
  return {
    inputs: [input],
    snapshot: () => input.value,
    read: () => ({ include: true, value: input.value }),
  };
}

function secretRenderer({ field, id, t, carried, extras, describedBy }) {
  const input = h("input", {
    id, name: field.name, type: "password", placeholder: field.placeholder || undefined,
    autocomplete: field.type === "password" ? "new-password" : "off",
    spellcheck: "false", value: carried?.value ?? "",
  });
  let clearBox = null;
  if (field.has_value) {
    const hint = field.type === "password" && field.masked
      ? t("wizard.stored_password", { masked: field.masked })
      : t("wizard.stored_secret");
    extras.push(h("p", { class: "wizard-stored", id: `${id}-stored` }, hint));
    describedBy.push(`${id}-stored`);
    clearBox = h("input", { type: "checkbox", id: `${id}-clear`, checked: Boolean(carried?.clear) });
    clearBox.addEventListener("change", () => {
      input.disabled = clearBox.checked;
      if (clearBox.checked) input.value = "";
    });
    input.disabled = clearBox.checked;
    extras.push(h("div", { class: "wizard-inline wizard-clear" }, clearBox,
      h("label", { for: `${id}-clear` }, t("wizard.clear_stored", { label: field.label }))));
  }
  return {
    inputs: [input],
    snapshot: () => ({ value: input.value, clear: clearBox?.checked || false }),
    read: () => {
      if (input.value !== "") return { include: true, value: input.value };
      if (clearBox?.checked) return { include: true, value: "" }; // explicitly cleared
      // Stored and left empty: leave it out so the server keeps it.
      return field.has_value ? { include: false } : { include: true, value: "" };
    },
  };
}

function numberRenderer({ field, id, carried }, extraAttrs = {}) {
  const value = initial(field, carried, "");
  const input = h("input", {
    id, name: field.name, type: "number", step: "any", inputmode: "decimal",
    placeholder: field.placeholder || undefined, value: value === null ? "" : String(value),
    required: field.required, ...extraAttrs,
  });
  return {
    inputs: [input],
    snapshot: () => input.value,
    read: () => {
      if (input.value.trim() === "") return { include: true, value: null };
      const number = Number(input.value);
      return { include: true, value: Number.isFinite(number) ? number : input.value };
    },
  };
}

function durationRenderer(args) {
  const { id, t, describedBy } = args;
  const control = numberRenderer(args, { min: 0, step: 1, inputmode: "numeric" });
  const unit = h("span", { class: "wizard-unit", id: `${id}-unit` }, t("wizard.seconds"));
  describedBy.unshift(`${id}-unit`);
  control.widget = h("div", { class: "wizard-with-unit" }, control.inputs[0], unit);
  return control;
}

function boolRenderer({ field, id, carried }) {
  const input = h("input", {
    id, name: field.name, type: "checkbox", checked: Boolean(initial(field, carried, false)),
  });
  return {
    inputs: [input],
    inline: true,
    snapshot: () => input.checked,
    read: () => ({ include: true, value: input.checked }),
  };
}

function choiceRenderer({ field, id, t, carried }, options) {
  if (field.multiple) {
    const chosen = new Set((initial(field, carried, []) || []).map((value) => JSON.stringify(value)));
    const boxes = options.map((option, index) => h("input", {
      type: "checkbox", id: `${id}-${index}`, name: field.name,
      checked: chosen.has(JSON.stringify(option.value)),
    }));
    return {
      inputs: boxes,
      fieldset: h("div", { class: "wizard-choices" }, options.map((option, index) =>
        h("div", { class: "wizard-inline" }, boxes[index], h("label", { for: `${id}-${index}` }, option.label)))),
      snapshot: () => options.filter((_, index) => boxes[index].checked).map((option) => option.value),
      read: () => ({
        include: true,
        value: options.filter((_, index) => boxes[index].checked).map((option) => option.value),
      }),
    };
  }
  const selected = JSON.stringify(initial(field, carried, null));
  const select = h("select", { id, name: field.name, required: field.required },
    h("option", { value: "" }, t("wizard.choose")),
    options.map((option, index) => h("option", {
      value: String(index), selected: JSON.stringify(option.value) === selected,
    }, option.label)));
  // Option values keep their JSON type (a number stays a number), so map back by index.
  const value = () => (select.value === "" ? null : options[Number(select.value)].value);
  return {
    inputs: [select],
    snapshot: value,
    read: () => ({ include: true, value: value() }),
  };
}

function selectRenderer(args) {
  return choiceRenderer(args, args.field.options || []);
}

function entityRenderer(args) {
  const { field, ctx } = args;
  // Filled when the entities arrive; until then the current value is kept as a lone option.
  const current = initial(field, args.carried, field.multiple ? [] : null);
  const known = (field.multiple ? current : [current]).filter((value) => value !== null && value !== "");
  const placeholderOptions = known.map((value) => ({ value, label: String(value) }));
  const holder = h("div", { class: "wizard-entity" });
  let control = choiceRenderer({ ...args, carried: current }, placeholderOptions);
  const wrap = () => (control.fieldset || control.inputs[0]);
  clear(holder).append(wrap());
  const proxy = {
    get inputs() { return control.inputs; },
    snapshot: () => control.snapshot(),
    read: () => control.read(),
  };
  if (field.multiple) proxy.fieldset = holder;
  else proxy.widget = holder;
  const { query, rest } = entityQuery(field.filter);
  ctx.api.get("/api/entities", query).then((answer) => {
    const entities = (answer?.entities || []).filter((entity) =>
      Object.entries(rest).every(([key, wanted]) => matches(entity[key], wanted)));
    const options = entities.map((entity) => ({ value: entity.id, label: entityLabel(entity) }));
    for (const value of known) {
      if (!options.some((option) => option.value === value)) options.push({ value, label: String(value) });
    }
    const old = control;
    const keep = old.snapshot();
    control = choiceRenderer({ ...args, carried: keep }, options);
    for (const input of control.inputs) {
      for (const name of ["aria-describedby", "aria-invalid", "aria-required"]) {
        const attr = old.inputs[0]?.getAttribute(name);
        if (attr) input.setAttribute(name, attr);
      }
    }
    clear(holder).append(wrap());
  }).catch(() => {});
  return proxy;
}

const ENTITY_QUERY_KEYS = new Set(["domain", "entry_id", "entity_type", "device_id", "visible", "category"]);

function entityQuery(filter) {
  const query = {};
  const rest = {};
  for (const [key, value] of Object.entries(filter || {})) {
    if (ENTITY_QUERY_KEYS.has(key) && !Array.isArray(value)) query[key] = value;
    else rest[key] = value;
  }
  return { query, rest };
}

function matches(actual, wanted) {
  return Array.isArray(wanted) ? wanted.includes(actual) : actual === wanted;
}

function entityLabel(entity) {
  return entity.name ? `${entity.name} (${entity.domain}.${entity.entity_type})` : String(entity.id);
}

function suggestRenderer(args, suggestions) {
  const { field, id, ctx, carried } = args;
  const listId = `${id}-list`;
  const value = initial(field, carried, field.multiple ? [] : "");
  const shown = Array.isArray(value) ? value.join(", ") : String(value ?? "");
  const input = h("input", {
    id, name: field.name, type: "text", list: listId, value: shown,
    placeholder: field.placeholder || undefined, required: field.required, autocomplete: "off",
  });
  const list = h("datalist", { id: listId });
  suggestions(ctx, field).then((items) => {
    list.append(...[...new Set(items)].filter((item) => item !== null && item !== "")
      .map((item) => h("option", { value: String(item) })));
  }).catch(() => {});
  const read = () => {
    const text = input.value.trim();
    if (field.multiple) return text ? text.split(",").map((part) => part.trim()).filter(Boolean) : [];
    return text === "" ? null : text;
  };
  return {
    inputs: [input],
    widget: h("div", {}, input, list),
    snapshot: () => (field.multiple ? read() : input.value),
    read: () => ({ include: true, value: read() }),
  };
}

async function deviceSuggestions(ctx, field) {
  const { query } = entityQuery(field.filter);
  const answer = await ctx.api.get("/api/entities", query);
  return (answer?.entities || []).map((entity) => entity.device_id);
}

async function areaSuggestions(ctx) {
  const answer = await ctx.api.get("/api/entities");
  return (answer?.entities || []).map((entity) => entity.attributes?.area);
}

function pickerRenderer({ field, id, carried }) {
  const type = INPUT_TYPES[field.type];
  const fallback = type === "color" ? "#000000" : "";
  const input = h("input", {
    id, name: field.name, type, value: String(initial(field, carried, fallback) ?? fallback),
    required: field.required,
  });
  return {
    inputs: [input],
    snapshot: () => input.value,
    read: () => ({ include: true, value: input.value === "" ? null : input.value }),
  };
}

function noteRenderer({ field, id }) {
  // A note takes no value: its label is the text, its image (a QR code, say) is shown with it.
  const display = h("div", { class: "wizard-note-body" },
    h("p", { class: "wizard-note-text", id }, field.label),
    field.image && /^(data:image\/|https?:\/\/)/i.test(field.image)
      ? h("img", { class: "wizard-note-image", src: field.image, alt: field.label })
      : null);
  return { inputs: [], display };
}

const RENDERERS = {
  text: textRenderer,
  password: secretRenderer,
  secret: secretRenderer,
  number: numberRenderer,
  bool: boolRenderer,
  select: selectRenderer,
  note: noteRenderer,
  entity: entityRenderer,
  device: (args) => suggestRenderer(args, deviceSuggestions),
  area: (args) => suggestRenderer(args, areaSuggestions),
  duration: durationRenderer,
  date: pickerRenderer,
  time: pickerRenderer,
  datetime: pickerRenderer,
  color: pickerRenderer,
};

export const FIELD_TYPES = Object.keys(RENDERERS);
