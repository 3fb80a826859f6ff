// A conversation's options: which model answers, and which integrations' tools it may use.

import { h, clear } from "../dom.js";

let unique = 0;

/** The model select: ``models`` from ``GET /api/models``; ``onChange(name)``. */
export function modelSelect(ctx, models, current, onChange) {
  const { t } = ctx;
  const id = `chat-model-${++unique}`;
  const known = models.some((m) => m.name === current);
  const select = h("select", { id, class: "chat-options__model", onchange: () => onChange(select.value) },
    known || !current ? null : h("option", { value: current, selected: true }, t("chat.model_missing", { name: current })),
    models.map((m) => h("option", { value: m.name, selected: m.name === current },
      m.is_default ? t("chat.model_default", { name: m.name }) : m.name)));
  return h("div", { class: "chat-options__field" }, h("label", { for: id }, t("chat.model")), select);
}

/** The integration picker: ``selected`` is a list of domains, or null for all of them;
 * ``onChange(list | null)``. ``load(model)`` (re)fetches what the model may use. */
export function integrationPicker(ctx, selected, onChange) {
  const { t } = ctx;
  let integrations = [];
  let chosen = selected === null || selected === undefined ? null : [...selected];
  const summary = h("summary", {});
  const body = h("div", { class: "chat-options__picker" }, h("p", { class: "muted" }, "…"));
  const element = h("details", { class: "chat-options__integrations", onkeydown: (event) => {
    if (event.key !== "Escape" || !element.open) return;
    element.open = false;
    summary.focus();
  } }, summary, body);
  // A drop-down: a click elsewhere closes it.
  const outside = (event) => { if (element.open && !element.contains(event.target)) element.open = false; };
  document.addEventListener("click", outside);

  const available = () => integrations.filter((i) => i.available).map((i) => i.domain);
  const describe = () => {
    summary.textContent = chosen === null
      ? t("chat.integrations_all")
      : t("chat.integrations_some", { n: chosen.filter((d) => available().includes(d)).length, total: available().length });
  };
  const change = (next) => {
    chosen = next;
    describe();
    paint();
    onChange(chosen === null ? null : [...chosen]);
  };

  function paint() {
    clear(body);
    const all = h("input", { type: "checkbox", checked: chosen === null, onchange: (event) => {
      change(event.target.checked ? null : available());
    } });
    const list = h("ul", { class: "chat-options__list" }, integrations.map((item) => {
      const reasonId = `chat-reason-${++unique}`;
      const box = h("input", { type: "checkbox", value: item.domain,
        checked: item.available && (chosen === null || chosen.includes(item.domain)),
        disabled: !item.available || chosen === null,
        "aria-describedby": item.available ? null : reasonId,
        onchange: (event) => {
          const rest = chosen.filter((d) => d !== item.domain);
          change(event.target.checked ? [...rest, item.domain] : rest);
        } });
      const tools = (item.tools || []).length;
      return h("li", { class: item.available ? "" : "chat-options__unavailable" },
        h("label", { class: "chat-options__check" }, box, item.name || item.domain,
          item.available ? h("span", { class: "muted" }, ` · ${t("chat.tools_n", { n: tools })}`) : null,
          item.entries && !item.entries.length ? h("span", { class: "muted" }, ` · ${t("chat.not_set_up")}`) : null),
        item.available ? null : h("p", { id: reasonId, class: "chat-options__reason muted" }, reasonOf(item, t)));
    }));
    body.append(h("fieldset", { class: "chat-options__fieldset" },
      h("legend", {}, t("chat.integrations_legend")),
      h("label", { class: "chat-options__check chat-options__all" }, all, t("chat.integrations_all_label")),
      integrations.length ? list : h("p", { class: "muted" }, t("chat.no_integrations"))));
  }

  async function load(model) {
    try {
      const answer = await ctx.api.get("/api/agent/integrations", { model: model || undefined });
      integrations = answer.integrations || [];
    } catch (err) {
      integrations = [];
      clear(body).append(h("p", { class: "error", role: "alert" }, err.message));
      describe();
      return;
    }
    describe();
    paint();
  }

  describe();
  return { element, load, get value() { return chosen; }, destroy: () => document.removeEventListener("click", outside) };
}

/** Why an integration is not offered, in the person's language when the hub gave a reason code. */
function reasonOf(item, t) {
  if (item.reason_code === "tier_too_low") {
    return t("chat.needs_tier", { tier: t(`settings.tier_${item.required_tier}`) });
  }
  return item.reason || t("chat.unavailable");
}
