// Saving a file the hub answers (a backup, a diagnostics file): the API needs the access token, which
// a plain link cannot send, so the file is fetched and handed to the browser as a blob.

import { api, ApiError, session } from "./api.js";
import { language } from "./i18n.js";

function request(path) {
  const headers = { "Accept-Language": language() };
  const token = session.load()?.access_token;
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, { headers });
}

/** The name the hub gave the file (Content-Disposition), else ``fallback``. */
function fileName(resp, fallback) {
  const header = resp.headers.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : fallback;
}

/** Download ``path`` as a file; rejects with an ``ApiError`` the hub answered, as ``api`` does. */
export async function download(path, fallback) {
  let resp = await request(path);
  if (resp.status === 401) {
    // An expired access token: one API call renews it (api.js), then the file is asked for again.
    await api.get("/api/auth/current_user");
    resp = await request(path);
  }
  if (!resp.ok) {
    const body = resp.headers.get("Content-Type")?.includes("json") ? await resp.json().catch(() => null) : null;
    throw new ApiError(resp.status, body);
  }
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName(resp, fallback);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the blob once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return link.download;
}
