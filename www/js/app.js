// Start-up: sign-in state, navigation, the hash router; pages follow the contract in README.md.

import { api, ApiError, session, whenSignedOut } from "./api.js";
import { HubSocket } from "./ws.js";
import { h, clear, passwordsDiffer } from "./dom.js";
import { setLanguage, t, language } from "./i18n.js";
import { errorText } from "./errors.js";
import { approvalNotice } from "./components/approval-notice.js";
import { notificationBell } from "./components/notifications.js";
import { repairsBadge } from "./components/repairs.js";
import { restoreOffer } from "./components/restore-backup.js";

// Each page's module is fetched the first time it is shown: the first load carries only the shell
// and the page opened. The navigation labels are here so the bar is drawn before any page loads.
const PAGES = [
  { route: "chat", navKey: "chat.nav" },
  { route: "inbox", navKey: "inbox.nav" },
  { route: "workflows", navKey: "workflows.nav" },
  { route: "memory", navKey: "memory.nav" },
  { route: "entities", navKey: "entities.nav" },
  { route: "dashboards", navKey: "dashboards.nav" },
  { route: "integrations", navKey: "wizard.nav_integrations" },
  { route: "entries", navKey: "wizard.nav_entries" },
  { route: "settings", navKey: "settings.nav" },
];
const view = document.getElementById("view");
const nav = document.getElementById("nav");
const state = { modules: new Map(), cleanup: null, ws: null, person: null, notice: null, bell: null, repairs: null };

function applyTheme() {
  const theme = localStorage.getItem("hub.theme") || "system";
  document.documentElement.dataset.theme = theme;
}

// ---------------------------------------------------------------------------------------- toasts

let routed = 0;
let carryTurn = -1;

/** A short message in the corner; it belongs to the page it was raised on (see ``route``). */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", dataset: { turn: String(routed) } }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Toasts do not outlive their page, except the ones a page raised just before it navigated itself
 * (``ctx.navigate``): "X has been added" announces what the next page shows. */
function clearToasts(turn) {
  for (const item of document.querySelectorAll("#toasts > .toast")) {
    const raised = Number(item.dataset.turn);
    if (raised === carryTurn) item.dataset.turn = String(turn);
    else item.remove();
  }
  carryTurn = -1;
}

// ------------------------------------------------------------------------------------ navigation

function closeMenu() {
  nav.classList.remove("nav--open");
  nav.querySelector(".nav__menu")?.setAttribute("aria-expanded", "false");
}

function renderNav() {
  clear(nav);
  const links = PAGES.filter((page) => page.navKey)
    .map((page) => h("a", { href: `#/${page.route}`, dataset: { route: page.route }, onclick: closeMenu }, t(page.navKey)));
  const menu = h("button", { type: "button", class: "nav__menu", "aria-expanded": "false", "aria-controls": "nav-links",
    "aria-label": t("app.menu"), onclick: () => {
      const open = !nav.classList.contains("nav--open");
      nav.classList.toggle("nav--open", open);
      menu.setAttribute("aria-expanded", String(open));
      if (open) nav.querySelector("#nav-links a")?.focus();
    } }, h("span", { class: "nav__burger", "aria-hidden": "true" }), h("span", { class: "nav__menu-label" }, t("app.menu")));
  const out = h("button", { type: "button", class: "link", onclick: signOut }, t("app.sign_out"));
  nav.append(h("span", { class: "brand" }, "hub"), ...(state.notice ? [state.notice.element] : []),
    ...(state.repairs ? [state.repairs.element] : []), ...(state.bell ? [state.bell.element] : []), menu,
    h("div", { class: "nav__links", id: "nav-links" }, ...links, h("span", { class: "spacer" }),
      h("span", { class: "who" }, state.person?.display_name || state.person?.username || ""), out));
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !nav.classList.contains("nav--open")) return;
  closeMenu();
  nav.querySelector(".nav__menu")?.focus();
});
document.addEventListener("click", (event) => {
  if (nav.classList.contains("nav--open") && !nav.contains(event.target)) closeMenu();
});

async function pageModule(name) {
  if (!state.modules.has(name)) {
    state.modules.set(name, import(`./pages/${name}.js`).catch((err) => {
      state.modules.delete(name); // a later visit tries again
      throw err;
    }));
  }
  return state.modules.get(name);
}

// ---------------------------------------------------------------------------------------- router

async function route() {
  if (!state.person) return; // signed out: the sign-in page stays
  const hash = location.hash.replace(/^#\/?/, "") || "entities";
  const [wanted, ...rest] = hash.split("/");
  const name = PAGES.some((page) => page.route === wanted) ? wanted : "entities";
  const turn = ++routed;
  closeMenu();
  clearToasts(turn);
  state.cleanup?.();
  state.cleanup = null;
  clear(view);
  // Each page renders into its own box: when the hash changes again while a page is still loading,
  // the late page fills a box no longer shown, and is cleaned up at once (never two pages at once).
  const root = h("div", { class: "page" });
  view.append(root);
  for (const link of nav.querySelectorAll("a")) {
    link.toggleAttribute("aria-current", link.dataset.route === name);
  }
  const ctx = {
    api,
    ws: state.ws,
    t,
    lang: language(),
    person: state.person,
    navigate: (path) => {
      carryTurn = turn;
      location.hash = `#/${path}`;
    },
    params: { rest: wanted === name ? rest.join("/") : "" },
    toast,
  };
  try {
    const page = await pageModule(name);
    if (turn !== routed) return;
    const cleanup = (await page.render(root, ctx)) || null;
    if (turn === routed) state.cleanup = cleanup;
    else cleanup?.();
  } catch (err) {
    if (turn !== routed) return;
    console.error(err);
    root.append(h("p", { role: "alert", class: "error" }, err instanceof ApiError ? errorText(err) : t("app.failed")));
  }
}

function signOut() {
  api.post("/api/auth/logout").catch(() => {});
  session.clear();
  state.ws?.close();
  location.hash = "";
  location.reload();
}

// ------------------------------------------------------------------------------- sign-in pages

/** The sign-in or onboarding form; a throttled sign-in counts down until it may be tried again. */
function authPage(onboarding) {
  clear(view);
  clear(nav);
  nav.append(h("span", { class: "brand" }, "hub"));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", required: true,
    autocomplete: onboarding ? "new-password" : "current-password", minlength: onboarding ? 8 : undefined });
  const confirm = onboarding
    ? h("input", { id: "password-confirm", name: "password-confirm", type: "password", required: true, autocomplete: "new-password" })
    : null;
  const submit = h("button", { type: "submit", class: "primary" }, onboarding ? t("app.create_owner") : t("app.sign_in"));
  let busy = false;
  let waitUntil = 0;
  let timer = null;
  const show = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  const settle = () => {
    submit.disabled = busy || Date.now() < waitUntil;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  };
  const countDown = () => {
    const left = Math.ceil((waitUntil - Date.now()) / 1000);
    if (left > 0) {
      show(t("app.throttled", { seconds: left }));
      return;
    }
    clearInterval(timer);
    timer = null;
    error.hidden = true;
    settle();
  };
  const form = h("form", { class: "card auth", "aria-busy": "false", onsubmit: async (event) => {
    event.preventDefault();
    // While one attempt is checked, or a wait is pending, another only lengthens the wait.
    if (busy || Date.now() < waitUntil) return;
    error.hidden = true;
    if (confirm && passwordsDiffer(password, confirm, error, t("app.password_mismatch"))) return;
    busy = true;
    settle();
    try {
      const body = { username: username.value, password: password.value };
      if (confirm) body.password_confirmation = confirm.value;
      const tokens = await api.post(onboarding ? "/api/onboarding" : "/api/auth/login", body);
      session.save(tokens);
      clearInterval(timer);
      await start();
      return;
    } catch (err) {
      const seconds = err instanceof ApiError && err.status === 429
        ? Number(err.retryAfter || err.params?.seconds) || 1
        : 0;
      if (seconds) {
        waitUntil = Date.now() + seconds * 1000;
        clearInterval(timer);
        timer = setInterval(countDown, 250);
        countDown();
      } else {
        show(err instanceof ApiError ? errorText(err) : t("app.failed"));
      }
    }
    busy = false;
    settle();
  } },
  h("h1", {}, onboarding ? t("app.welcome") : t("app.sign_in")),
  onboarding ? h("p", {}, t("app.onboarding_hint")) : null,
  h("label", { for: "username" }, t("app.username")), username,
  h("label", { for: "password" }, t("app.password")), password,
  onboarding ? h("p", { class: "muted auth__hint" }, t("app.password_hint")) : null,
  confirm ? [h("label", { for: "password-confirm" }, t("app.password_confirm")), confirm] : null,
  error,
  submit);
  view.append(form);
  // A new hub may instead be brought back from a backup (it restarts with the restored directory).
  if (onboarding) view.append(restoreOffer({ t, hide: [form] }));
  username.focus();
}

let listening = false;

function labelShell() {
  document.querySelector(".skip").textContent = t("app.skip");
  nav.setAttribute("aria-label", t("app.main_navigation"));
}

async function start() {
  applyTheme();
  // Before anyone signs in, the browser's languages choose (the hub's errors follow them too).
  await setLanguage(null);
  labelShell();
  if (!session.load()) {
    let status;
    try {
      status = await api.get("/api/onboarding");
    } catch (err) {
      clear(view).append(h("p", { role: "alert", class: "error" }, err instanceof ApiError ? errorText(err) : t("app.failed")));
      return;
    }
    authPage(status.open);
    return;
  }
  try {
    state.person = await api.get("/api/auth/current_user");
  } catch {
    session.clear();
    return start();
  }
  state.ws = new HubSocket();
  state.ws.onStatus = (status) => {
    document.body.classList.toggle("offline", status !== "connected");
    // The hub closes the sockets of a sign-in it ended (signed out everywhere, a new password):
    // one request finds out, and a refused refresh shows the sign-in page.
    if (status === "disconnected") api.get("/api/auth/current_user").catch(() => {});
  };
  state.ws.connect().catch(() => {});  // opens while the language loads
  const first = (location.hash.replace(/^#\/?/, "") || "entities").split("/")[0];
  await Promise.all([setLanguage(state.person.language),
    PAGES.some((page) => page.route === first) ? pageModule(first).catch(() => null) : null]);
  labelShell();
  state.notice?.stop();
  state.notice = approvalNotice({ api, ws: state.ws, t });
  state.bell?.stop();
  state.bell = notificationBell({ api, ws: state.ws, t, lang: language() });
  state.repairs?.stop();
  state.repairs = repairsBadge({ api, ws: state.ws, t, lang: language(), toast });
  renderNav();
  state.notice.start();
  state.bell.start();
  state.repairs.start();
  if (!listening) window.addEventListener("hashchange", route);
  listening = true;
  await route();
}

whenSignedOut(() => {
  state.cleanup?.();
  state.cleanup = null;
  state.notice?.stop();
  state.notice = null;
  state.bell?.stop();
  state.bell = null;
  state.repairs?.stop();
  state.repairs = null;
  state.ws?.close();
  state.ws = null;
  state.person = null;
  closeMenu();
  start();
});
window.addEventListener("storage", (event) => { if (event.key === "hub.theme") applyTheme(); });
start();
