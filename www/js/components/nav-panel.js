// A button in the navigation bar that opens a panel beneath it (the notifications bell, the Repairs
// badge): opening and closing (the button, Escape, a click outside), and a refresh that a burst of
// websocket events runs once at a time.
//
//   const panel = navPanel({ element, button, panel: section, heading, ws, eventType: "repair.*",
//     load, failed, paint });
//   panel.open; panel.show(); panel.close(true); await panel.refresh(); panel.start(); panel.stop();

const SVG = "http://www.w3.org/2000/svg";

/** A 24×24 icon of one path, for a navigation button (its label says what it is). */
export function navIcon(d) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

/**
 * The panel's status line: ``failure`` as an alert when there is one, else ``emptyText``, shown
 * only while the list is ``empty``.
 */
export function paintStatus(status, failure, emptyText, empty) {
  if (failure) {
    status.textContent = failure;
    status.setAttribute("role", "alert");
    status.hidden = false;
  } else {
    status.removeAttribute("role");
    status.textContent = emptyText;
    status.hidden = !empty;
  }
}

/**
 * The panel's behaviour. ``load()`` fetches (and throws on failure, which goes to ``failed(err)``);
 * ``paint()`` draws the badge and, while open, the list. ``onShow``/``onClose`` run as the panel
 * opens and closes; ``inside(target)`` says a click belongs to the panel though it is outside it
 * (a dialog it opened).
 */
export function navPanel({ element, button, panel, heading, ws, eventType, load, failed, paint,
  onShow = () => {}, onClose = () => {}, inside = () => false }) {
  let open = false;
  let stopped = false;
  let unsubscribe = null;
  let asking = null; // the refresh in flight
  let again = false;

  async function refresh() {
    if (asking) {
      again = true;
      return asking;
    }
    asking = (async () => {
      do {
        again = false;
        try {
          await load();
        } catch (err) {
          failed(err); // left as it was: the next event asks again
        }
      } while (again && !stopped);
      asking = null;
      if (!stopped) paint();
    })();
    return asking;
  }

  function show() {
    open = true;
    onShow();
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    paint();
    refresh();
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }

  function close(refocus = false) {
    if (!open) return;
    open = false;
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    onClose();
    if (refocus && !element.hidden) button.focus();
  }

  function onKey(event) {
    if (event.key === "Escape" && open) close(true);
  }

  function onClick(event) {
    if (open && !element.contains(event.target) && !inside(event.target)) close();
  }

  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => (open ? close() : show()));
  return {
    get open() {
      return open;
    },
    show,
    close,
    refresh,
    async start() {
      document.addEventListener("keydown", onKey);
      document.addEventListener("click", onClick);
      const first = refresh();
      try {
        const off = await ws.subscribe("subscribe_events", { event_type: eventType }, () => refresh());
        if (stopped) off();
        else unsubscribe = off;
        // What arrived before the subscription took hold (the first fetch may have been earlier).
        refresh();
      } catch {
        // No live updates: the badge still shows what there was at sign-in.
      }
      await first;
    },
    stop() {
      stopped = true;
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("click", onClick);
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}
