// Building DOM from data without innerHTML: text always goes in as text nodes.

/** h("button", {class: "x", onclick: fn, "aria-label": "…"}, "text", child) → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (strings become text nodes; arrays are flattened; null is skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of ``el``. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A modal <dialog> with a title and body; resolves when it closes. */
export function dialog(title, body, { actions = [] } = {}) {
  const dlg = h("dialog", { class: "dialog", "aria-label": title },
    h("h2", {}, title), body, h("div", { class: "actions" }, actions));
  document.body.append(dlg);
  dlg.addEventListener("close", () => dlg.remove());
  dlg.showModal();
  return dlg;
}

/** Ask a yes/no question in a dialog; resolves to true when confirmed. ``details`` is its body:
 * what will happen (never the question again). */
export function confirmDialog(question, confirmLabel, cancelLabel, details = null) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h("button", { class: "danger", type: "button", onclick: () => { answer = true; dlg.close(); } }, confirmLabel);
    const no = h("button", { type: "button", onclick: () => dlg.close() }, cancelLabel);
    const dlg = dialog(question, details ? h("p", { class: "dialog__details" }, details) : null, { actions: [no, yes] });
    dlg.addEventListener("close", () => resolve(answer));
  });
}

/** Format an ISO time for people. */
export function when(iso, lang) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(lang);
}

// A password typed twice that differs: say so in `error`, put the cursor on the second, and
// answer true, so the form is not sent.
export function passwordsDiffer(first, second, error, message) {
  if (first.value === second.value) return false;
  error.textContent = message;
  error.hidden = false;
  second.focus();
  return true;
}
