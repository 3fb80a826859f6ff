// The workflow editor's lists: triggers, conditions and actions, each step a card with its own
// form (one per type), moved up and down or removed; a ``choose`` action nests the same lists.
//
// ``env`` is the editor's: { ctx, t, catalog, text (entity text), entities(), entries(),
// models, household(), local (problems found before sending) }.

import { h, clear } from "../dom.js";
import { renderField } from "./flow-fields.js";
import {
  field, pathBox, textInput, selectInput, checkInput, pairsEditor, jsonInput, listInput, entityPicker, uid,
} from "./workflow-form.js";

export const TRIGGER_TYPES = ["event", "state", "schedule", "webhook", "message"];
export const CONDITION_TYPES = ["state", "numeric", "time", "expression"];
export const ACTION_TYPES = ["entity_action", "notify", "event", "agent", "http", "delay", "choose"];
const NESTED = ["and", "or", "not"];
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

// ------------------------------------------------------------------------------------ the lists

const KINDS = {
  triggers: { types: TRIGGER_TYPES, prefix: "trigger", body: (...a) => triggerBody(...a) },
  conditions: { types: CONDITION_TYPES, prefix: "condition", body: (...a) => conditionBody(...a) },
  actions: { types: ACTION_TYPES, prefix: "action", body: (...a) => actionBody(...a) },
};

function fresh(kind, type) {
  if (kind === "actions") {
    if (type === "choose") return { type, choices: [{ conditions: [], actions: [] }], default: [] };
    if (type === "http") return { type, method: "POST" };
    return { type };
  }
  if (kind === "conditions" && type === "state") return { type, state: [] };
  if (kind === "conditions" && type === "time") return { type, weekdays: [] };
  if (type === "event") return { type, data: {} };
  return { type };
}

/** One list (``kind``: triggers, conditions or actions) editing ``arr`` in place at ``path``. */
export function stepList(arr, path, kind, env, { label }) {
  const { t } = env;
  const spec = KINDS[kind];
  const items = h("ol", { class: "wf-steps", "aria-label": label });
  const picker = h("select", { "aria-label": t(`workflows.${spec.prefix}_type_new`) },
    spec.types.map((type) => h("option", { value: type }, t(`workflows.${spec.prefix}_${type}`))));
  const add = h("button", { type: "button", onclick: () => {
    arr.push(fresh(kind, picker.value));
    paint();
    const cards = items.querySelectorAll(":scope > li");
    cards[cards.length - 1]?.querySelector("input, select, textarea")?.focus();
  } }, t(`workflows.add_${spec.prefix}`));
  const empty = h("p", { class: "muted wf-empty" }, t(`workflows.no_${kind}`));

  function paint() {
    empty.hidden = arr.length > 0;
    clear(items).append(...arr.map((item, index) => card(item, index)));
  }

  function card(item, index) {
    const at = `${path}[${index}]`;
    const typeName = t(`workflows.${spec.prefix}_${item.type}`);
    const title = item.alias ? `${index + 1}. ${item.alias} (${typeName})` : `${index + 1}. ${typeName}`;
    const name = `${typeName} ${index + 1}`;
    const move = (delta) => {
      const [moved] = arr.splice(index, 1);
      arr.splice(index + delta, 0, moved);
      paint();
      items.querySelectorAll(":scope > li")[index + delta]
        ?.querySelector(`button[data-move="${delta}"]:not(:disabled), button[data-move]:not(:disabled)`)?.focus();
    };
    const tools = h("div", { class: "wf-step__tools" },
      h("button", { type: "button", class: "link", disabled: index === 0, dataset: { move: "-1" },
        "aria-label": t("workflows.move_up", { name }), title: t("workflows.move_up", { name }), onclick: () => move(-1) }, "↑"),
      h("button", { type: "button", class: "link", disabled: index === arr.length - 1, dataset: { move: "1" },
        "aria-label": t("workflows.move_down", { name }), title: t("workflows.move_down", { name }), onclick: () => move(1) }, "↓"),
      h("button", { type: "button", class: "link wf-remove", "aria-label": t("workflows.remove_step", { name }),
        title: t("workflows.remove_step", { name }), onclick: () => {
          arr.splice(index, 1);
          paint();
          (items.querySelectorAll(":scope > li")[Math.min(index, arr.length - 1)]?.querySelector("button") || add).focus();
        } }, "✕"));
    return h("li", { class: `wf-step wf-step--${kind}`, dataset: { type: item.type } },
      pathBox(at, { class: "wf-step__box", role: "group", "aria-label": name },
        h("div", { class: "wf-step__head" }, h("h4", { class: "wf-step__title" }, title), tools),
        spec.body(item, at, env)));
  }

  paint();
  return h("div", { class: "wf-list", dataset: { kind } }, empty, items,
    h("div", { class: "wf-add" }, picker, add));
}

// --------------------------------------------------------------------------------------- triggers

function triggerBody(item, at, env) {
  const { t } = env;
  switch (item.type) {
    case "event": {
      const listId = uid("wf-events");
      const types = (env.catalog.event_types || []).map((e) => e.type);
      return [
        field(`${at}.event_type`, t("workflows.event_type"),
          textInput(item, "event_type", { list: listId, placeholder: "inbox.message" }),
          { hint: t("workflows.event_type_hint") }),
        h("datalist", { id: listId }, types.map((type) => h("option", { value: type }))),
        pairsEditor(item, "data", `${at}.data`, t("workflows.data_filter"), { t, hint: t("workflows.data_filter_hint") }),
      ];
    }
    case "state":
      return stateFields(item, at, env, true);
    case "schedule": {
      const kind = { value: item.interval_seconds != null && item.cron == null ? "interval" : "cron" };
      const cron = field(`${at}.cron`, t("workflows.cron"), textInput(item, "cron", { placeholder: "0 7 * * 1-5" }),
        { hint: t("workflows.cron_hint") });
      const interval = field(`${at}.interval_seconds`, t("workflows.interval_seconds"),
        textInput(item, "interval_seconds", { number: true }), { hint: t("workflows.interval_hint") });
      const show = () => {
        cron.hidden = kind.value !== "cron";
        interval.hidden = kind.value !== "interval";
      };
      const pick = selectInput(kind, "value", [["cron", t("workflows.schedule_cron")], ["interval", t("workflows.schedule_interval")]], {
        onchange: () => {
          delete item[kind.value === "cron" ? "interval_seconds" : "cron"];
          show();
        },
      });
      show();
      return [field(`${at}.schedule`, t("workflows.schedule_kind"), pick), cron, interval];
    }
    case "webhook": {
      const entries = env.entries().filter((e) => e.domain === "webhook");
      return [
        field(`${at}.entry_id`, t("workflows.webhook_entry"),
          selectInput(item, "entry_id", entries.map((e) => [e.entry_id, e.title]), { empty: t("workflows.choose") }),
          { hint: entries.length ? null : t("workflows.no_webhooks") }),
        field(`${at}.event_type`, t("workflows.webhook_event"), textInput(item, "event_type", { placeholder: "push" }),
          { optional: true, t, hint: t("workflows.webhook_event_hint") }),
      ];
    }
    case "message": {
      const entries = env.entries().filter((e) => env.messaging.has(e.domain));
      return [
        field(`${at}.entry_id`, t("workflows.message_account"),
          selectInput(item, "entry_id", entries.map((e) => [e.entry_id, e.title]), { empty: t("workflows.any_account") })),
        field(`${at}.channel`, t("workflows.message_channel"), textInput(item, "channel"), { optional: true, t }),
        field(`${at}.min_importance`, t("workflows.min_importance"),
          selectInput(item, "min_importance", ["low", "normal", "high"].map((i) => [i, t(`workflows.importance_${i}`)]),
            { empty: t("workflows.any_importance") })),
      ];
    }
    default:
      return readOnly(item, t);
  }
}

/** The state trigger's and the state condition's fields: the entity, an attribute, the values. */
function stateFields(item, at, env, trigger) {
  const { t } = env;
  const listId = uid("wf-attrs");
  const attrs = h("datalist", { id: listId });
  const fillAttrs = (entity) => {
    clear(attrs).append(...Object.keys(entity?.attributes || {}).map((key) => h("option", { value: key })));
  };
  fillAttrs(env.entities().find((e) => e.id === item.entity_id));
  const out = [
    entityPicker(item, "entity_id", `${at}.entity_id`, t("workflows.entity"), env, { onchange: fillAttrs }),
    field(`${at}.attribute`, t("workflows.attribute"), textInput(item, "attribute", { list: listId }),
      { optional: true, t, hint: t("workflows.attribute_hint") }),
    attrs,
  ];
  if (trigger) {
    out.push(
      h("div", { class: "wf-row" },
        field(`${at}.from`, t("workflows.from"), textInput(item, "from"), { optional: true, t }),
        field(`${at}.to`, t("workflows.to"), textInput(item, "to"), { optional: true, t })),
      field(`${at}.for_seconds`, t("workflows.for_seconds"), textInput(item, "for_seconds", { number: true }),
        { optional: true, t, hint: t("workflows.for_hint") }));
  } else {
    out.push(field(`${at}.state`, t("workflows.state_is"), listInput(item, "state"), { hint: t("workflows.state_is_hint") }));
  }
  return out;
}

// ------------------------------------------------------------------------------------- conditions

function conditionBody(item, at, env) {
  const { t } = env;
  switch (item.type) {
    case "state":
      return stateFields(item, at, env, false);
    case "numeric":
      return [
        h("p", { class: "wf-hint muted" }, t("workflows.numeric_hint")),
        entityPicker(item, "entity_id", `${at}.entity_id`, t("workflows.entity"), env, { optional: true }),
        field(`${at}.attribute`, t("workflows.attribute"), textInput(item, "attribute"), { optional: true, t }),
        field(`${at}.expression`, t("workflows.expression"), textInput(item, "expression", { placeholder: "trigger.data.value" }),
          { optional: true, t }),
        h("div", { class: "wf-row" },
          field(`${at}.above`, t("workflows.above"), textInput(item, "above", { number: true }), { optional: true, t }),
          field(`${at}.below`, t("workflows.below"), textInput(item, "below", { number: true }), { optional: true, t })),
      ];
    case "time": {
      item.weekdays ||= [];
      const days = WEEKDAYS.map((day) => {
        const box = h("input", { type: "checkbox", id: uid(), checked: item.weekdays.includes(day), onchange: () => {
          item.weekdays = WEEKDAYS.filter((d) => (d === day ? box.checked : item.weekdays.includes(d)));
        } });
        return h("span", { class: "wf-inline" }, box, h("label", { for: box.id }, t(`workflows.day_${day}`)));
      });
      return [
        h("div", { class: "wf-row" },
          field(`${at}.after`, t("workflows.after"), textInput(item, "after", { type: "time" }), { optional: true, t }),
          field(`${at}.before`, t("workflows.before"), textInput(item, "before", { type: "time" }), { optional: true, t })),
        pathBox(`${at}.weekdays`, { class: "wf-field", role: "group", "aria-label": t("workflows.weekdays") },
          h("span", { class: "wf-label" }, t("workflows.weekdays")),
          h("div", { class: "wf-days" }, days),
          h("p", { class: "wf-hint muted" }, t("workflows.weekdays_hint"))),
      ];
    }
    case "expression":
      return [field(`${at}.expression`, t("workflows.expression"),
        textInput(item, "expression", { placeholder: "trigger.data.temperature > `20`" }),
        { hint: t("workflows.expression_hint") })];
    default:
      return readOnly(item, t);
  }
}

/** An and/or/not condition (or a type this page does not edit): shown as it is, kept as it is. */
function readOnly(item, t) {
  const known = NESTED.includes(item.type);
  return [
    h("p", { class: "muted" }, known ? t("workflows.nested_read_only") : t("workflows.unknown_read_only")),
    h("pre", { class: "wf-pre" }, JSON.stringify(item, null, 2)),
  ];
}

// ---------------------------------------------------------------------------------------- actions

function actionBody(item, at, env) {
  const { t } = env;
  const body = (() => {
    switch (item.type) {
      case "entity_action": return entityActionFields(item, at, env);
      case "event":
        return [
          field(`${at}.event_type`, t("workflows.event_type"), textInput(item, "event_type", { placeholder: "home.arrived" }),
            { hint: t("workflows.fire_event_hint") }),
          pairsEditor(item, "data", `${at}.data`, t("workflows.event_data"), { t }),
        ];
      case "notify": {
        const out = [
          field(`${at}.title`, t("workflows.notify_title"), textInput(item, "title", { keepEmpty: true })),
          field(`${at}.message`, t("workflows.notify_message"), textInput(item, "message", { multiline: true }),
            { optional: true, t, hint: t("workflows.placeholders_hint") }),
        ];
        if (env.household()) {
          out.push(field(`${at}.person_id`, t("workflows.notify_person"),
            selectInput(item, "person_id", (env.catalog.people || []).map((p) => [p.id, p.name]),
              { empty: t("workflows.every_admin") })));
        }
        return out;
      }
      case "agent":
        return [
          field(`${at}.prompt`, t("workflows.prompt"), textInput(item, "prompt", { multiline: true, keepEmpty: true }),
            { hint: t("workflows.placeholders_hint") }),
          field(`${at}.model`, t("workflows.model"),
            selectInput(item, "model", env.models.map((m) => [m.name, m.name]), { empty: t("workflows.default_model") })),
        ];
      case "http":
        return [
          h("div", { class: "wf-row" },
            field(`${at}.method`, t("workflows.method"), selectInput(item, "method", METHODS.map((m) => [m, m]))),
            field(`${at}.url`, t("workflows.url"), textInput(item, "url", { type: "url", placeholder: "https://" }))),
          pairsEditor(item, "headers", `${at}.headers`, t("workflows.headers"), { t, strings: true }),
          field(`${at}.body`, t("workflows.body"), jsonInput(item, "body", `${at}.body`, env.local, t),
            { optional: true, t, hint: t("workflows.body_hint") }),
        ];
      case "delay":
        return [field(`${at}.seconds`, t("workflows.delay_seconds"), textInput(item, "seconds", { number: true }))];
      case "choose":
        return chooseFields(item, at, env);
      default:
        return readOnly(item, t);
    }
  })();
  return [
    body,
    h("details", { class: "wf-more" },
      h("summary", {}, t("workflows.step_options")),
      field(`${at}.alias`, t("workflows.alias"), textInput(item, "alias"), { optional: true, t, hint: t("workflows.alias_hint") }),
      field(`${at}.continue_on_error`, t("workflows.continue_on_error"), checkInput(item, "continue_on_error"), { inline: true })),
  ];
}

/** The entity, one of the actions its type declares, and that action's fields from their descriptors. */
function entityActionFields(item, at, env) {
  const { t, ctx } = env;
  item.args ||= {};
  const actionBox = h("div", { class: "wf-action-pick" });
  const argsBox = h("div", { class: "wf-args" });
  let controls = [];

  const readArgs = () => {
    const args = {};
    for (const control of controls) {
      if (!control.read) continue;
      const { include, value } = control.read();
      if (include && value !== null && value !== "" && !(Array.isArray(value) && !value.length && !control.field.required)) {
        args[control.name] = value;
      }
    }
    item.args = args;
  };

  const paintArgs = (entity) => {
    clear(argsBox);
    controls = [];
    const action = entity ? env.text.actions(entity).find((a) => a.name === item.action) : null;
    const fields = (action?.fields || []).filter((f) => f.type !== "note");
    for (const descriptor of fields) {
      const control = renderField(descriptor, null, item.args?.[descriptor.name], { uid: uid("wf-arg"), t, ctx });
      controls.push(control);
      argsBox.append(pathBox(`${at}.args.${descriptor.name}`, { class: "wf-arg" }, control.element));
    }
    if (fields.length) readArgs();
  };

  const paintActions = (entity) => {
    clear(actionBox);
    const actions = entity ? env.text.actions(entity) : [];
    if (!entity) {
      paintArgs(null);
      return;
    }
    if (!actions.length) {
      actionBox.append(h("p", { class: "muted" }, t("workflows.entity_no_actions")));
      paintArgs(null);
      return;
    }
    if (!actions.some((a) => a.name === item.action)) {
      item.action = actions[0].name;
      item.args = {};
    }
    actionBox.append(field(`${at}.action`, t("workflows.entity_action"),
      selectInput(item, "action", actions.map((a) => [a.name, a.label || a.name]), {
        onchange: () => {
          item.args = {};
          paintArgs(entity);
        },
      })));
    paintArgs(entity);
  };

  argsBox.addEventListener("input", readArgs);
  argsBox.addEventListener("change", readArgs);
  const picker = entityPicker(item, "entity_id", `${at}.entity_id`, t("workflows.entity"), env, {
    onchange: (entity) => paintActions(entity),
  });
  paintActions(env.entities().find((e) => e.id === item.entity_id) || null);
  return [
    picker, actionBox, pathBox(`${at}.args`, { class: "wf-args-box" }, argsBox),
    h("details", { class: "wf-more", open: Object.keys(item.args_from || {}).length > 0 },
      h("summary", {}, t("workflows.args_from")),
      pairsEditor(item, "args_from", `${at}.args_from`, t("workflows.args_from"),
        { t, strings: true, keyLabel: t("workflows.argument"), valueLabel: t("workflows.expression"), hint: t("workflows.args_from_hint") })),
  ];
}

/** ``choose``: each choice's conditions and actions (the same lists, nested), and the default. */
function chooseFields(item, at, env) {
  const { t } = env;
  item.choices ||= [];
  item.default ||= [];
  const box = h("div", { class: "wf-choices" });
  const paint = () => {
    clear(box).append(...item.choices.map((choice, index) => {
      const path = `${at}.choices[${index}]`;
      choice.conditions ||= [];
      choice.actions ||= [];
      const name = t("workflows.choice_n", { n: index + 1 });
      return pathBox(path, { class: "wf-choice", role: "group", "aria-label": name },
        h("div", { class: "wf-step__head" }, h("h5", { class: "wf-step__title" }, name),
          h("button", { type: "button", class: "link wf-remove", "aria-label": t("workflows.remove_choice", { n: index + 1 }),
            onclick: () => { item.choices.splice(index, 1); paint(); } }, "✕")),
        h("h6", {}, t("workflows.when_all")),
        stepList(choice.conditions, `${path}.conditions`, "conditions", env, { label: t("workflows.choice_conditions", { n: index + 1 }) }),
        h("h6", {}, t("workflows.then_do")),
        stepList(choice.actions, `${path}.actions`, "actions", env, { label: t("workflows.choice_actions", { n: index + 1 }) }));
    }));
  };
  paint();
  return [
    box,
    h("button", { type: "button", onclick: () => {
      item.choices.push({ conditions: [], actions: [] });
      paint();
    } }, t("workflows.add_choice")),
    h("h6", {}, t("workflows.otherwise")),
    stepList(item.default, `${at}.default`, "actions", env, { label: t("workflows.default_actions") }),
  ];
}
