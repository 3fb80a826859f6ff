// The inbox's contacts (rename, addresses, merge two, delete) and the person's triage rules.

import { h, clear, append, dialog, confirmDialog } from "../dom.js";
import { errorText } from "../errors.js";

const back = (t) => h("a", { class: "inbox-backlink", href: "#/inbox" }, `← ${t("inbox.back")}`);

/** #/inbox/contacts */
export async function contactsView(root, ctx) {
  const { t } = ctx;
  let contacts = [];
  let channels = ["email"];
  const list = h("ul", { class: "inbox-contacts", "aria-label": t("inbox.contacts") });
  const empty = h("p", { class: "muted", hidden: true }, t("inbox.no_contacts"));
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  root.append(
    h("header", { class: "inbox-head" }, h("h1", {}, t("inbox.contacts")),
      h("nav", { class: "inbox-links", "aria-label": t("inbox.more_views") }, back(t),
        h("button", { type: "button", class: "primary", onclick: () => edit(null) }, t("inbox.new_contact")))),
    problem, empty, list);

  async function reload() {
    try {
      contacts = (await ctx.api.get("/api/contacts")).contacts || [];
      contacts.sort((a, b) => a.name.localeCompare(b.name, ctx.lang));
      problem.hidden = true;
    } catch (err) {
      problem.textContent = errorText(err);
      problem.hidden = false;
    }
    clear(list).append(...contacts.map(card));
    empty.hidden = contacts.length > 0;
  }

  function card(c) {
    const id = `contact-${c.id}`;
    const others = contacts.filter((o) => o.id !== c.id && o.may_manage);
    const named = (key) => ({ "aria-label": t(key, { name: c.name }) });
    return h("li", {}, h("article", { class: "card inbox-contact", "aria-labelledby": id },
      h("h2", { id }, c.name),
      c.addresses.length
        ? h("ul", { class: "inbox-contact__addresses" }, c.addresses.map((a) => h("li", {}, h("span", { class: "muted" }, `${a.channel}: `), a.address)))
        : h("p", { class: "muted" }, t("inbox.no_addresses")),
      h("p", {}, h("a", { href: `#/inbox/contact/${c.id}` }, t("inbox.contact_messages", { name: c.name }))),
      c.may_manage ? h("div", { class: "actions" },
        h("button", { type: "button", ...named("inbox.edit_contact"), onclick: () => edit(c) }, t("inbox.edit")),
        others.length ? h("button", { type: "button", ...named("inbox.merge_title"), onclick: () => merge(c, others) }, t("inbox.merge")) : null,
        h("button", { type: "button", class: "danger", ...named("inbox.delete_named"), onclick: () => remove(c) }, t("inbox.delete"))) : null));
  }

  function edit(c) {
    const name = h("input", { id: "contact-name", value: c?.name || "", maxlength: 200, required: true, autocomplete: "off" });
    const rows = h("div", { class: "inbox-address-rows" });
    const addRow = (address = { channel: channels[0], address: "" }) => {
      const n = rows.children.length + 1;
      const channel = h("input", { value: address.channel, list: "contact-channels", required: true,
        "aria-label": t("inbox.address_channel", { n }) });
      const value = h("input", { value: address.address, required: true, "aria-label": t("inbox.address_value", { n }) });
      const row = h("div", { class: "inbox-address-row" }, channel, value,
        h("button", { type: "button", class: "link", "aria-label": t("inbox.remove_address", { n }), onclick: () => row.remove() }, "✕"));
      rows.append(row);
      return value;
    };
    for (const address of c?.addresses || []) addRow(address);
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const form = h("form", { class: "inbox-contact-form", onsubmit: async (event) => {
      event.preventDefault();
      const addresses = [...rows.children].map((row) => {
        const [channel, value] = row.querySelectorAll("input");
        return { channel: channel.value.trim(), address: value.value.trim() };
      });
      try {
        const body = { name: name.value.trim(), addresses };
        if (c) await ctx.api.patch(`/api/contacts/${c.id}`, body);
        else await ctx.api.post("/api/contacts", body);
        dlg.close();
        ctx.toast(t("inbox.contact_saved_toast", { name: body.name }));
        await reload();
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      }
    } },
    h("label", { for: "contact-name" }, t("inbox.contact_name")), name,
    h("fieldset", { class: "inbox-addresses" }, h("legend", {}, t("inbox.addresses")), rows,
      h("button", { type: "button", onclick: () => addRow().focus() }, t("inbox.add_address"))),
    h("datalist", { id: "contact-channels" }, channels.map((ch) => h("option", { value: ch }))),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("inbox.cancel")),
      h("button", { type: "submit", class: "primary" }, t("inbox.save"))));
    const dlg = dialog(c ? t("inbox.edit_contact", { name: c.name }) : t("inbox.new_contact"), form);
    name.focus();
  }

  function merge(c, others) {
    const pick = h("select", { id: "merge-other" }, others.map((o) => h("option", { value: String(o.id) }, o.name)));
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const form = h("form", { onsubmit: async (event) => {
      event.preventDefault();
      const other = others.find((o) => String(o.id) === pick.value);
      try {
        await ctx.api.post(`/api/contacts/${c.id}/merge`, { other: other.id });
        dlg.close();
        ctx.toast(t("inbox.merged_toast", { name: c.name, other: other.name }));
        await reload();
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      }
    } },
    h("label", { for: "merge-other" }, t("inbox.merge_pick")), pick,
    h("p", { class: "muted" }, t("inbox.merge_details", { name: c.name })), error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("inbox.cancel")),
      h("button", { type: "submit", class: "primary" }, t("inbox.merge_submit"))));
    const dlg = dialog(t("inbox.merge_title", { name: c.name }), form);
    pick.focus();
  }

  async function remove(c) {
    if (!await confirmDialog(t("inbox.delete_contact_question", { name: c.name }), t("inbox.delete"), t("inbox.cancel"),
      t("inbox.delete_contact_details"))) return;
    try {
      await ctx.api.del(`/api/contacts/${c.id}`);
      ctx.toast(t("inbox.contact_deleted_toast", { name: c.name }));
      await reload();
    } catch (err) {
      ctx.toast(errorText(err), "error");
    }
  }

  try {
    const entries = (await ctx.api.get("/api/config-entries")).entries || [];
    channels = [...new Set(["email", ...entries.map((e) => e.domain)])];
  } catch {
    // The channel field still takes any name.
  }
  await reload();
  return () => {};
}

/** #/inbox/rules: keywords, known contacts and when triage proposes a reply; an admin also sets the
 * household's (they apply to household channels, a person's to their own). */
export async function rulesView(root, ctx) {
  const { t } = ctx;
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "card inbox-rules", hidden: true });
  const scope = ctx.person?.is_admin
    ? h("select", { id: "rules-scope", onchange: () => load() },
      h("option", { value: "person" }, t("inbox.rules_scope_person")),
      h("option", { value: "household" }, t("inbox.rules_scope_household")))
    : null;
  root.append(
    h("header", { class: "inbox-head" }, h("h1", {}, t("inbox.rules")),
      h("nav", { class: "inbox-links", "aria-label": t("inbox.more_views") }, back(t))),
    h("p", { class: "muted" }, t("inbox.rules_intro")),
    scope ? h("div", { class: "inbox-rules__scope" }, h("label", { for: "rules-scope" }, t("inbox.rules_scope")), scope) : null,
    problem, form);
  let rules = null;
  const where = () => (scope?.value === "household" ? "/api/inbox/rules?scope=household" : "/api/inbox/rules");
  const words = (id, label, list) => [
    h("label", { for: id }, label),
    h("textarea", { id, rows: 3, "aria-describedby": "rules-words-hint", value: (list || []).join("\n") })];
  const choice = (id, label, value, options) => [
    h("label", { for: id }, label),
    h("select", { id }, options.map((o) => h("option", { value: o, selected: o === value }, t(`inbox.rules_${id.slice(6)}_${o}`))))];
  const lines = (id) => form.querySelector(`#${id}`).value.split(/[\n,]/).map((w) => w.trim()).filter(Boolean);
  const error = h("p", { class: "error", role: "alert", hidden: true });

  async function load() {
    try {
      rules = (await ctx.api.get(where())).rules;
      problem.hidden = true;
    } catch (err) {
      problem.textContent = errorText(err);
      problem.hidden = false;
      form.hidden = true;
      return;
    }
    error.hidden = true;
    append(clear(form), [
      words("rules-high", t("inbox.rules_high"), rules.keywords?.high),
      words("rules-low", t("inbox.rules_low"), rules.keywords?.low),
      h("p", { id: "rules-words-hint", class: "muted" }, t("inbox.rules_words_hint")),
      choice("rules-known", t("inbox.rules_known"), rules.known_contacts, ["normal", "high"]),
      choice("rules-drafts", t("inbox.rules_drafts"), rules.draft_replies, ["never", "high_known", "high"]),
      error,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("inbox.save")))]);
    form.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      // Per-contact and per-channel rules are kept as they are: this panel does not edit them.
      const body = { ...rules, keywords: { high: lines("rules-high"), low: lines("rules-low") },
        known_contacts: form.querySelector("#rules-known").value, draft_replies: form.querySelector("#rules-drafts").value };
      rules = (await ctx.api.put(where(), body)).rules;
      ctx.toast(t("inbox.rules_saved_toast"));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
  await load();
  return () => {};
}
