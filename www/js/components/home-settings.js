// Settings → Home: where the household is (admins). Weather and other location-aware integrations
// use it; an entry that follows the home location picks up a change at its next sync.

import { h, clear } from "../dom.js";
import { errorText } from "../errors.js";

/** The browser's own time zone, the default for a home not yet set. */
function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Every time zone the browser knows, for the field's suggestions (none on an older browser). */
function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

function field(id, label, input, hint) {
  return h("div", { class: "settings__field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "muted", id: `${id}-hint` }, hint) : null);
}

/** Fill ``section`` with the home location's form. */
export async function homeSection(section, ctx) {
  const { t } = ctx;
  const refill = () => homeSection(section, ctx);
  let home = null;
  try {
    ({ home } = await ctx.api.get("/api/home"));
  } catch (err) {
    clear(section).append(h("h2", { id: "settings-home" }, t("settings.home")),
      h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const number = (id, value, min, max, step) => h("input", { id, type: "number", step, min, max,
    inputmode: "decimal", value: value ?? "" });
  const name = h("input", { id: "home-name", required: true, maxlength: 100, value: home?.name ?? t("settings.home_default_name") });
  const latitude = number("home-latitude", home?.latitude, -90, 90, "any");
  const longitude = number("home-longitude", home?.longitude, -180, 180, "any");
  const elevation = number("home-elevation", home?.elevation, -500, 9000, "any");
  elevation.setAttribute("aria-describedby", "home-elevation-hint");
  latitude.required = true;
  longitude.required = true;
  const zone = h("input", { id: "home-time-zone", required: true, maxlength: 64, list: "home-time-zones",
    autocomplete: "off", value: home?.time_zone ?? browserZone() });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "primary" }, t("settings.save"));
  const show = (err) => {
    error.textContent = errorText(err);
    error.hidden = false;
  };
  const form = h("form", { class: "settings__home", "aria-label": t("settings.home"), onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    const body = {
      name: name.value.trim(),
      latitude: Number(latitude.value),
      longitude: Number(longitude.value),
      elevation: elevation.value.trim() === "" ? null : Number(elevation.value),
      time_zone: zone.value.trim(),
    };
    try {
      await ctx.api.put("/api/home", body);
      ctx.toast(t("settings.home_saved"));
      await refill();
    } catch (err) {
      show(err);
      save.disabled = false;
    }
  } },
  field("home-name", t("settings.home_name"), name),
  h("div", { class: "settings__inline" },
    field("home-latitude", t("settings.home_latitude"), latitude),
    field("home-longitude", t("settings.home_longitude"), longitude)),
  field("home-elevation", t("settings.home_elevation"), elevation, t("settings.home_elevation_hint")),
  field("home-time-zone", t("settings.home_time_zone"), zone),
  h("datalist", { id: "home-time-zones" }, zones().map((value) => h("option", { value }))),
  h("div", { class: "settings__inline" }, save,
    home ? h("button", { type: "button", class: "danger", onclick: async () => {
      try {
        await ctx.api.del("/api/home");
        ctx.toast(t("settings.home_cleared"));
        await refill();
      } catch (err) {
        show(err);
      }
    } }, t("settings.home_clear")) : null),
  error);
  clear(section).append(
    h("h2", { id: "settings-home" }, t("settings.home")),
    h("p", { class: "muted", id: "home-state" }, home ? t("settings.home_hint") : t("settings.home_unset")),
    form);
}
