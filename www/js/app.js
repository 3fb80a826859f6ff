// Start-up: sign-in state, navigation, the hash router; pages follow the contract in README.md.

import { api, ApiError, session, whenSignedOut } from "./api.js";
import { HubSocket } from "./ws.js";
import { h, clear } from "./dom.js";
import { setLanguage, t, language } from "./i18n.js";
import { errorText } from "./errors.js";

const PAGES = ["chat", "entities", "dashboards", "integrations", "entries", "settings"];
const view = document.getElementById("view");
const nav = document.getElementById("nav");
const state = { pages: {}, cleanup: null, ws: null, person: null };

function applyTheme() {
  const theme = localStorage.getItem("hub.theme") || "system";
  document.documentElement.dataset.theme = theme;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

async function loadPages() {
  // In parallel: on a Pi over Wi-Fi each round trip counts.
  const loaded = await Promise.all(PAGES.map((name) => import(`./pages/${name}.js`).catch((err) => {
    console.error(`page ${name} failed to load`, err);
    return null;
  })));
  PAGES.forEach((name, index) => { if (loaded[index]) state.pages[name] = loaded[index]; });
}

function renderNav() {
  clear(nav);
  const links = PAGES.map((name) => state.pages[name])
    .filter((page) => page && page.navKey)
    .map((page) => h("a", { href: `#/${page.route}`, dataset: { route: page.route } }, t(page.navKey)));
  const out = h("button", { type: "button", class: "link", onclick: signOut }, t("app.sign_out"));
  nav.append(h("span", { class: "brand" }, "hub"), ...links, h("span", { class: "spacer" }),
    h("span", { class: "who" }, state.person?.display_name || ""), out);
}

let routed = 0;

async function route() {
  const hash = location.hash.replace(/^#\/?/, "") || "entities";
  const [name, ...rest] = hash.split("/");
  const turn = ++routed;
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
  const page = Object.values(state.pages).find((p) => p.route === name) || state.pages.entities;
  if (!page) {
    root.append(h("p", {}, t("app.not_found")));
    return;
  }
  const ctx = {
    api,
    ws: state.ws,
    t,
    lang: language(),
    person: state.person,
    navigate: (path) => { location.hash = `#/${path}`; },
    params: { rest: rest.join("/") },
    toast,
  };
  try {
    const cleanup = (await page.render(root, ctx)) || null;
    if (turn === routed) state.cleanup = cleanup;
    else cleanup?.();
  } catch (err) {
    if (turn !== routed) return;
    console.error(err);
    root.append(h("p", { role: "alert", class: "error" }, err instanceof ApiError ? err.message : t("app.failed")));
  }
}

function signOut() {
  api.post("/api/auth/logout").catch(() => {});
  session.clear();
  state.ws?.close();
  location.hash = "";
  location.reload();
}

function authPage(onboarding) {
  clear(view);
  clear(nav);
  nav.append(h("span", { class: "brand" }, "hub"));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", required: true,
    autocomplete: onboarding ? "new-password" : "current-password", minlength: onboarding ? 8 : undefined });
  const form = h("form", { class: "card auth", onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      const body = { username: username.value, password: password.value };
      const tokens = await api.post(onboarding ? "/api/onboarding" : "/api/auth/login", body);
      session.save(tokens);
      await start();
    } catch (err) {
      error.textContent = err instanceof ApiError ? errorText(err) : t("app.failed");
      error.hidden = false;
    }
  } },
  h("h1", {}, onboarding ? t("app.welcome") : t("app.sign_in")),
  onboarding ? h("p", {}, t("app.onboarding_hint")) : null,
  h("label", { for: "username" }, t("app.username")), username,
  h("label", { for: "password" }, t("app.password")), password,
  error,
  h("button", { type: "submit", class: "primary" }, onboarding ? t("app.create_owner") : t("app.sign_in")));
  view.append(form);
  username.focus();
}

async function start() {
  applyTheme();
  await setLanguage(null);
  if (!session.load()) {
    const status = await api.get("/api/onboarding");
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
  state.ws.onStatus = (status) => document.body.classList.toggle("offline", status !== "connected");
  state.ws.connect().catch(() => {});  // opens while the pages load
  await Promise.all([setLanguage(state.person.language), loadPages()]);
  renderNav();
  window.addEventListener("hashchange", route);
  await route();
}

whenSignedOut(() => start());
window.addEventListener("storage", (event) => { if (event.key === "hub.theme") applyTheme(); });
start();
