// One entity in detail: its name and live state, device, integration, every attribute, its times
// and its history. A modal dialog on a desktop, a full-screen sheet on a phone (entity-detail.css).
//
//   const view = await openEntityDetail(ctx, entityId);   // view.close(); view.closed resolves
//
// Loaded with import() when first opened (the entities page, a dashboard card), with its CSS and
// the history chart, so none of it weighs on the first load. Live: it listens to entity.* events
// while open (the entity's full new state arrives with each), and stops when it closes.

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";
import { loadEntityText } from "../entity-text.js";
import { historyView } from "./history-chart.js";

const CSS = "css/entity-detail.css";

function loadCss() {
  if (document.querySelector(`link[href="${CSS}"]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const link = h("link", { rel: "stylesheet", href: CSS });
    link.addEventListener("load", resolve);
    link.addEventListener("error", resolve); // unstyled beats not at all
    document.head.append(link);
  });
}

/** Open the detail of ``entityId``; resolves to ``{ close(), closed }`` once the dialog shows. */
export async function openEntityDetail(ctx, entityId) {
  const { api, ws, t, lang } = ctx;
  const id = Number(entityId);
  const opener = document.activeElement;
  const times = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
  const ago = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  await loadCss();

  let entity = null;
  let text = null;
  let chart = null;
  let unsubscribe = null;
  let done = false;
  let resolveClosed;
  const closed = new Promise((resolve) => { resolveClosed = resolve; });

  const title = h("h2", { id: `entity-detail-title-${id}`, class: "entity-detail__title" }, t("entities.detail.loading"));
  const closeButton = h("button", {
    type: "button", class: "entity-detail__close", "aria-label": t("entities.detail.close"), title: t("entities.detail.close"),
    onclick: () => close(),
  }, "×");
  const body = h("div", { class: "entity-detail__body", "aria-busy": "true" },
    h("p", { class: "muted" }, t("entities.detail.loading")));
  const dlg = h("dialog", { class: "dialog entity-detail", "aria-labelledby": title.id },
    h("header", { class: "entity-detail__head" }, title, closeButton), body);
  dlg.addEventListener("close", () => finish());
  // A route change (the back button) takes the page away under the dialog: the dialog goes too.
  const onRoute = () => close();
  window.addEventListener("hashchange", onRoute);
  document.body.append(dlg);
  dlg.showModal();
  closeButton.focus();

  function close() {
    if (dlg.open) dlg.close();
    else finish();
  }

  function finish() {
    if (done) return;
    done = true;
    window.removeEventListener("hashchange", onRoute);
    unsubscribe?.();
    chart?.destroy();
    dlg.remove();
    // Back to where the person was, when that is still on the page.
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
    resolveClosed();
  }

  try {
    [entity, text] = await Promise.all([api.get(`/api/entities/${id}`), loadEntityText(ctx)]);
  } catch (err) {
    if (done) return { close, closed };
    title.textContent = t("entities.detail.unavailable");
    clear(body).append(h("p", { role: "alert", class: "error" }, errorText(err)));
    body.removeAttribute("aria-busy");
    return { close, closed };
  }
  if (done) return { close, closed };

  // ---- the parts that follow the live state -----------------------------------------------------

  const stateValue = h("span", { class: "entity-detail__value" });
  const stateUnit = h("span", { class: "entity-detail__unit" });
  const changed = h("dd", {});
  const updated = h("dd", {});
  const attributes = h("div", { class: "entity-detail__attributes" });
  const removed = h("p", { class: "entity-detail__removed", role: "status", hidden: true });

  function when(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return t("entities.detail.never");
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    const [value, unit] = Math.abs(seconds) < 60 ? [seconds, "second"]
      : Math.abs(seconds) < 3600 ? [Math.round(seconds / 60), "minute"]
        : Math.abs(seconds) < 86400 ? [Math.round(seconds / 3600), "hour"]
          : [Math.round(seconds / 86400), "day"];
    return `${times.format(date)} (${ago.format(value, unit)})`;
  }

  function fill() {
    title.textContent = text.name(entity);
    stateValue.textContent = text.value(entity);
    stateValue.classList.toggle("muted", entity.state === null || entity.state === undefined);
    stateUnit.textContent = text.shownUnit(entity);
    changed.textContent = when(entity.last_changed);
    updated.textContent = when(entity.updated_at);
    const keys = Object.keys(entity.attributes || {});
    if (!keys.length) {
      clear(attributes).append(h("p", { class: "muted" }, t("entities.detail.no_attributes")));
      return;
    }
    const rows = keys
      .map((key) => [text.attributeLabel(entity, key), text.attributeValue(entity, key, entity.attributes[key])])
      .sort(([a], [b]) => a.localeCompare(b, lang));
    clear(attributes).append(h("dl", { class: "entity-detail__facts" },
      rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value)))));
  }

  // ---- what does not change while open: type, device, integration -------------------------------

  const facts = [[t("entities.detail.type"), text.typeName(entity)]];
  const device = text.deviceOf(entity);
  if (device) {
    facts.push([t("entities.detail.device"), text.deviceName(entity)]);
    const made = [device.manufacturer, device.model].filter((part) => typeof part === "string" && part);
    if (made.length) facts.push([t("entities.detail.made_by"), made.join(" · ")]);
  }
  facts.push([t("entities.detail.integration"), text.integrationName(entity.domain)]);
  const entryTitle = h("dd", {}, "…");
  const about = h("dl", { class: "entity-detail__facts" },
    facts.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value || "—"))),
    h("div", { class: "entity-detail__entry" }, h("dt", {}, t("entities.detail.entry")), entryTitle),
    h("div", {}, h("dt", {}, t("entities.detail.last_changed")), changed),
    h("div", {}, h("dt", {}, t("entities.detail.last_updated")), updated));
  api.get(`/api/config-entries/${encodeURIComponent(entity.entry_id)}`)
    .then((entry) => {
      // An entry titled after its integration (System Monitor's) says nothing new.
      if (!entry.title || entry.title === text.integrationName(entity.domain)) entryTitle.parentElement.remove();
      else entryTitle.textContent = entry.title;
    })
    // Not every person may read every entry (a household's, for a member): then the line goes.
    .catch(() => entryTitle.parentElement.remove());

  const format = (state) => text.state({ ...entity, state });
  chart = historyView(ctx, entity, { name: text.name(entity), format, unit: text.unit(entity) });

  clear(body).append(
    h("p", { class: "entity-detail__state" },
      h("span", { class: "entity-detail__hidden" }, `${t("entities.detail.state")}: `), stateValue, " ", stateUnit),
    removed,
    h("section", { "aria-labelledby": `entity-detail-about-${id}` },
      h("h3", { id: `entity-detail-about-${id}` }, t("entities.detail.about")), about),
    h("section", { "aria-labelledby": `entity-detail-attributes-${id}` },
      h("h3", { id: `entity-detail-attributes-${id}` }, t("entities.detail.attributes")), attributes),
    chart.element);
  body.removeAttribute("aria-busy");
  fill();

  function onEvent(msg) {
    const data = msg?.event?.data;
    if (done || !data || data.entity_id !== id) return;
    if (!data.new_state) {
      removed.textContent = t("entities.detail.removed");
      removed.hidden = false;
      return;
    }
    entity = data.new_state;
    fill();
    chart.update(entity);
  }

  try {
    const stop = await ws.subscribe("subscribe_events", { event_type: "entity.*" }, onEvent);
    if (done) stop();
    else unsubscribe = stop;
  } catch {
    // Without the stream the view still shows what it loaded; the page around it says when the
    // connection is lost.
  }
  return { close, closed };
}
