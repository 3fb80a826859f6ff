// Tool changes to review: for any entry whose integration pins its tools, each withheld tool's
// pinned and new definition side by side, and accepting them (GET/POST .../tool-review).

import { h, dialog } from "../dom.js";
import { errorText } from "../errors.js";

function definition(def, t) {
  if (!def) return h("p", { class: "tool-review__none" }, t("wizard.tool_review_none"));
  return h("div", { class: "tool-review__def" },
    h("p", { class: "tool-review__description" }, def.description || ""),
    h("pre", { class: "tool-review__schema" }, JSON.stringify(def.input_schema || {}, null, 2)));
}

function change(item, t, accept) {
  const button = h("button", { type: "button", class: "primary", onclick: () => accept([item.name], button) },
    t("wizard.tool_review_accept"));
  return h("section", { class: "tool-review__change", "aria-label": item.name },
    h("h3", {}, item.name, " — ", t(`wizard.tool_review_${item.kind}`)),
    h("div", { class: "tool-review__sides" },
      h("div", {}, h("h4", {}, t("wizard.tool_review_old")), definition(item.old, t)),
      h("div", {}, h("h4", {}, t("wizard.tool_review_new")), definition(item.new, t))),
    button);
}

/** Open the review of ``entry``; ``done`` runs after anything was accepted. */
export async function openToolReview(ctx, entry, done) {
  const { t } = ctx;
  const path = `/api/config-entries/${encodeURIComponent(entry.entry_id)}/tool-review`;
  let review;
  try {
    review = await ctx.api.get(path);
  } catch (err) {
    ctx.toast(errorText(err), "error");
    return;
  }
  const body = h("div", { class: "tool-review" });
  let dlg = null;
  async function accept(names, button) {
    if (button) button.disabled = true;
    try {
      const left = await ctx.api.post(path, { accept: names });
      ctx.toast(t("wizard.tool_review_accepted", { count: names.length }), "info");
      fill(left.changes);
      if (done) done();
    } catch (err) {
      ctx.toast(errorText(err), "error");
      if (button) button.disabled = false;
    }
  }
  function fill(changes) {
    body.replaceChildren(
      h("p", {}, changes.length ? t("wizard.tool_review_intro") : t("wizard.tool_review_empty")),
      ...changes.map((item) => change(item, t, accept)));
  }
  fill(review.changes || []);
  const close = h("button", { type: "button", onclick: () => dlg.close() }, t("wizard.cancel"));
  dlg = dialog(t("wizard.tool_review_title", { title: entry.title }), body, { actions: [close] });
}
