// REST calls with the access token; a 401 refreshes it once with the refresh token, which the hub
// rotates: every refresh answers a new one, and presenting an old one again signs out everywhere.

import { language } from "./i18n.js";

const STORE = "hub.session";
/** Requests whose 401 means a wrong password, not an expired access token. */
const SIGN_IN = new Set(["/api/auth/login", "/api/auth/refresh", "/api/onboarding"]);

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.correlationId = error.correlation_id || null;
    /** The sentence's translation key and placeholders; ``message`` is already rendered from them. */
    this.key = error.key || null;
    this.params = error.params || {};
    /** Every problem of a refused workflow (``workflow_invalid``): ``[{path, reason, message}]``. */
    this.problems = Array.isArray(error.problems) ? error.problems : null;
    /** Seconds to wait before trying again (a throttled sign-in answers 429 with Retry-After). */
    this.retryAfter = retryAfter === null ? null : Number(retryAfter) || null;
  }
}

export const session = {
  load() {
    try {
      return JSON.parse(localStorage.getItem(STORE)) || null;
    } catch {
      return null;
    }
  },
  save(tokens) {
    localStorage.setItem(STORE, JSON.stringify({
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? session.load()?.refresh_token,
    }));
  },
  clear() {
    localStorage.removeItem(STORE);
  },
};

let onSignedOut = () => {};

/** Called when the session cannot be renewed (the app shows the login page). */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

async function send(method, path, body, retry = true, signal = undefined) {
  const tokens = session.load();
  // A person's language setting wins on the hub; before sign-in, this is what the UI shows.
  const headers = { Accept: "application/json", "Accept-Language": language() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (tokens?.access_token) headers.Authorization = `Bearer ${tokens.access_token}`;
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (resp.status === 401 && retry && tokens?.refresh_token && !SIGN_IN.has(path)) {
    // Another tab may have refreshed meanwhile: its new token is in storage, and trading in the
    // old one again would look like a stolen copy and end the sign-in.
    const latest = session.load();
    const renewed = latest?.refresh_token && latest.refresh_token !== tokens.refresh_token;
    if (renewed || await refresh(tokens.refresh_token)) return send(method, path, body, false, signal);
    session.clear();
    onSignedOut();
  }
  const data = resp.headers.get("Content-Type")?.includes("json") ? await resp.json() : null;
  if (!resp.ok) throw new ApiError(resp.status, data, resp.headers.get("Retry-After"));
  return data;
}

let refreshing = null;

async function refresh(refreshToken) {
  refreshing ??= fetch("/api/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  }).then(async (resp) => {
    if (!resp.ok) return false;
    session.save(await resp.json()); // the rotated refresh token replaces the one just used
    return true;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

function withQuery(path, query) {
  const params = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export const api = {
  get: (path, query) => send("GET", withQuery(path, query)),
  // ``options.signal`` (an AbortSignal) lets a caller stop waiting, e.g. a wizard's Cancel.
  post: (path, body = {}, options = {}) => send("POST", path, body, true, options.signal),
  put: (path, body = {}) => send("PUT", path, body),
  patch: (path, body = {}) => send("PATCH", path, body),
  del: (path) => send("DELETE", path),
};
