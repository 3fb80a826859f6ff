// The one renderer of a server error: the hub already wrote its sentence in the person's language
// (their setting, else the Accept-Language this UI sends), so the UI shows it as sent, with the
// reference to the hub's log when there is one.

import { t } from "./i18n.js";

/** The text to show for a failed request or command (an ``ApiError``, a websocket error). */
export function errorText(err) {
  const message = err?.message || t("wizard.unexpected");
  const id = err?.correlationId || err?.correlation_id || err?.params?.correlation_id;
  return id && !message.includes(id) ? `${message} (${t("wizard.error_reference", { correlation_id: id })})` : message;
}
