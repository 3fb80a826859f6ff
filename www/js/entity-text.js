// How an entity reads in the person's language: its name, state, unit, attributes and device.
//
// The words come from GET /api/entity-types (every type and device the person may see, localized
// by the hub from each integration's translations), fetched once per language and shared by every
// page and view; the numbers, dates and durations are formatted here with Intl in ctx.lang.

const cache = new Map(); // lang → Promise of the catalog
const BYTE_UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"];
const DURATION_SECONDS = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

// The short keys of subscribe_entities (hub/api/websocket_entities.py) and their REST names.
export const COMPACT = {
  s: "state", a: "attributes", n: "name", lc: "last_changed", lu: "updated_at", e: "entry_id",
  d: "domain", t: "entity_type", x: "external_id", v: "visible", p: "parent_id", dv: "device_id",
  u: "unit", dc: "device_class", sc: "state_class", ct: "category",
};

/** A compact ``subscribe_entities`` record (``{s, a, n, d, t, …}``) in the REST shape, plus its id. */
export function restShape(id, compact, into = {}) {
  into.id = id;
  for (const short in compact) {
    const name = COMPACT[short];
    if (name) into[name] = compact[short];
  }
  return into;
}

/**
 * The entity text of ctx.lang: resolves to an object whose functions take an entity in the REST
 * shape of GET /api/entities/{id}. ``fresh`` asks the hub again (a new integration, a new device).
 */
export function loadEntityText(ctx, { fresh = false } = {}) {
  const lang = ctx.lang || "en";
  const held = cache.get(lang);
  if (held && !fresh) return held;
  const loading = ctx.api.get("/api/entity-types", { language: lang }).then(
    (answer) => {
      const text = entityText(answer, ctx);
      cache.set(lang, Promise.resolve(text)); // the newest answer serves every later reader
      return text;
    },
    (err) => {
      if (cache.get(lang) === loading) cache.delete(lang); // the next reader asks again
      // Without the words, entities still show: their own names, formatted numbers, no labels.
      console.warn("entity types could not be loaded", err);
      return held || entityText({}, ctx);
    });
  // A refresh leaves the older words in place for other readers until the newer ones are here.
  if (!held) cache.set(lang, loading);
  return loading;
}

function entityText(answer, ctx) {
  const { t } = ctx;
  const lang = ctx.lang || "en";
  const types = new Map((answer.types || []).map((type) => [`${type.domain}/${type.key}`, type]));
  const devices = new Map((answer.devices || []).map((device) => [device.id, device]));
  const integrations = answer.integrations || {};
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const precise = new Intl.NumberFormat(lang, { maximumSignificantDigits: 3 });
  const dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
  const dateTimes = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });
  const durations = "DurationFormat" in Intl ? new Intl.DurationFormat(lang, { style: "short" }) : null;
  const byteFormats = new Map();

  const typeOf = (entity) => types.get(`${entity.domain}/${entity.entity_type}`) || null;

  function name(entity) {
    const type = typeOf(entity);
    const own = typeof entity.name === "string" ? entity.name.trim() : "";
    // An entity named after its type (System Monitor's "CPU usage") reads in the person's language.
    if (type && (!own || own === type.source_name)) return type.name;
    return own || entity.external_id || String(entity.id ?? "");
  }

  function typeName(entity) {
    const type = typeOf(entity);
    return type ? type.name : entity.entity_type || "";
  }

  function unit(entity) {
    const own = entity.unit ?? entity.attributes?.unit_of_measurement ?? typeOf(entity)?.unit;
    return typeof own === "string" ? own : "";
  }

  function isDuration(entity) {
    const kind = entity.device_class ?? typeOf(entity)?.device_class;
    return kind === "duration" && unit(entity) in DURATION_SECONDS;
  }

  /** Seconds as its two largest units: "3 days, 4 hr", "3 Tg., 4 Std." (Intl.DurationFormat where there is one). */
  function duration(seconds) {
    const total = Math.max(0, Math.round(Math.abs(seconds)));
    const parts = { days: Math.floor(total / 86400), hours: Math.floor(total / 3600) % 24,
      minutes: Math.floor(total / 60) % 60, seconds: total % 60 };
    const order = ["days", "hours", "minutes", "seconds"];
    const first = order.findIndex((key) => parts[key] > 0);
    const kept = {};
    for (const key of order.slice(Math.max(0, first), Math.max(0, first) + 2)) kept[key] = parts[key];
    if (first < 0) kept.seconds = 0;
    if (durations) return durations.format(kept);
    return Object.entries(kept).map(([key, value]) => `${value} ${key[0]}`).join(" ");
  }

  /** The state without its unit (a humanized duration has swallowed it). */
  function value(entity) {
    const raw = entity.state;
    if (raw === null || raw === undefined || raw === "") return t("entities.state.unknown");
    const label = typeOf(entity)?.states?.[String(raw)];
    if (label) return label;
    if (raw === true || raw === "on") return t("entities.state.on");
    if (raw === false || raw === "off") return t("entities.state.off");
    const kind = entity.device_class ?? typeOf(entity)?.device_class;
    if (kind === "timestamp" || kind === "date") return formatDate(raw, kind === "date") || String(raw);
    const number = typeof raw === "number" ? raw : null;
    if (number !== null && isDuration(entity)) return duration(number * DURATION_SECONDS[unit(entity)]);
    if (number !== null) return numbers.format(number);
    return String(raw);
  }

  /** The unit to print after ``value``: none when the state is missing or already says it. */
  function shownUnit(entity) {
    if (entity.state === null || entity.state === undefined || typeof entity.state !== "number") return "";
    return isDuration(entity) ? "" : unit(entity);
  }

  function state(entity) {
    const suffix = shownUnit(entity);
    return suffix ? `${value(entity)}\u00a0${suffix}` : value(entity);
  }

  function formatDate(raw, dateOnly = false) {
    const date = new Date(raw);
    if (Number.isNaN(date.getTime())) return "";
    return (dateOnly || /^\d{4}-\d{2}-\d{2}$/.test(String(raw)) ? dates : dateTimes).format(date);
  }

  function bytes(count) {
    let index = 0;
    let scaled = Math.abs(count);
    while (scaled >= 1024 && index < BYTE_UNITS.length - 1) {
      scaled /= 1024;
      index++;
    }
    const unitName = BYTE_UNITS[index];
    if (!byteFormats.has(unitName)) {
      byteFormats.set(unitName, new Intl.NumberFormat(lang, { style: "unit", unit: unitName, unitDisplay: "short", maximumSignificantDigits: 3 }));
    }
    return byteFormats.get(unitName).format(Math.sign(count) * scaled);
  }

  function attributeLabel(entity, key) {
    const label = typeOf(entity)?.attributes?.[key];
    if (label) return label;
    // An undeclared attribute: "due_date" reads better as "Due date" than as an identifier.
    const words = String(key).replace(/_/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function attributeValue(entity, key, raw) {
    if (raw === null || raw === undefined || raw === "") return "—";
    if (typeof raw === "boolean") return t(raw ? "entities.yes" : "entities.no");
    if (typeof raw === "number") {
      if (/(^|_)bytes$/.test(key)) return bytes(raw);
      return Number.isInteger(raw) ? numbers.format(raw) : precise.format(raw);
    }
    if (typeof raw === "string") {
      if (ISO_DATE.test(raw)) return formatDate(raw) || raw;
      return raw;
    }
    if (Array.isArray(raw)) return raw.map((item) => attributeValue(entity, key, item)).join(", ");
    return JSON.stringify(raw);
  }

  function deviceOf(entity) {
    if (entity.device && typeof entity.device === "object") return entity.device;
    return entity.device_id === null || entity.device_id === undefined ? null : devices.get(entity.device_id) || null;
  }

  function deviceName(entity) {
    const device = deviceOf(entity);
    if (!device) return null;
    return device.name || [device.manufacturer, device.model].filter(Boolean).join(" ") || integrationName(entity.domain);
  }

  function integrationName(domain) {
    return integrations[domain] || domain || "";
  }

  /** The actions the type declares, their labels in the person's language; the entity's own as a fallback. */
  function actions(entity) {
    return typeOf(entity)?.actions || entity.actions || [];
  }

  return {
    lang, types, devices,
    typeOf, name, typeName, unit, shownUnit, value, state, duration,
    attributeLabel, attributeValue, deviceOf, deviceName, integrationName, actions,
    knowsDevice: (id) => devices.has(id),
    knowsType: (entity) => types.has(`${entity.domain}/${entity.entity_type}`),
  };
}
