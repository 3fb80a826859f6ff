// The UI's own strings: i18n/<lang>/<namespace>.json, where the namespace is a key's first segment.

const NAMESPACES = ["app", "wizard", "entities", "dashboards", "settings", "chat", "inbox", "notifications", "workflows", "memory", "skills", "ops"];
export const LANGUAGES = { en: "English", de: "Deutsch" };

const tables = { en: {}, de: {} };
const loaded = new Map();
let current = "en";

async function load(lang) {
  const parts = await Promise.all(NAMESPACES.map(async (ns) => {
    try {
      const resp = await fetch(`i18n/${lang}/${ns}.json`, { cache: "no-cache" });
      return resp.ok ? await resp.json() : {};
    } catch {
      return {};
    }
  }));
  tables[lang] = flatten(Object.assign({}, ...parts));
}

function once(lang) {
  if (!loaded.has(lang)) loaded.set(lang, load(lang));
  return loaded.get(lang);
}

function flatten(obj, prefix = "", out = {}) {
  for (const [key, value] of Object.entries(obj)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object") flatten(value, full, out);
    else out[full] = String(value);
  }
  return out;
}

/** Pick and load a language: the person's, else the browser's, else English. */
export async function setLanguage(preferred) {
  const wanted = [preferred, ...(navigator.languages || [])]
    .filter(Boolean)
    .map((tag) => String(tag).slice(0, 2).toLowerCase())
    .find((tag) => tag in LANGUAGES) || "en";
  current = wanted;
  await Promise.all([once("en"), wanted === "en" ? null : once(wanted)]);
  document.documentElement.lang = wanted;
  return wanted;
}

export function language() {
  return current;
}

/** The string for ``key`` in the current language, then English, then the key itself. */
export function t(key, params = {}) {
  const text = tables[current][key] ?? tables.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}
