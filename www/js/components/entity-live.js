// Entities a page watches by id, in the REST shape: fetched once, then kept live by
// `subscribe_entities` (or polled every 10 s when the websocket is unavailable).

import { restShape } from "../entity-text.js";

export class LiveEntities {
  constructor(ctx) {
    this.ctx = ctx;
    this.entities = new Map(); // id → the entity, or null once it is gone
    this.watchers = new Map(); // id → Set of callbacks
    this.started = false;
    this.closed = false;
    this.unsubscribe = null;
    this.timer = null;
    this.polling = false;
  }

  /** Call ``callback(entity)`` now (when known) and on every change; ``null`` when it is gone. */
  watch(id, callback) {
    if (!this.watchers.has(id)) this.watchers.set(id, new Set());
    this.watchers.get(id).add(callback);
    if (this.entities.has(id)) callback(this.entities.get(id));
    else this.fetch(id);
    this.start();
  }

  get(id) {
    return this.entities.get(id) || null;
  }

  /** Drop every watcher (the page repaints its cards). */
  forget() {
    this.watchers.clear();
  }

  async fetch(id) {
    try {
      const view = await this.ctx.api.get(`/api/entities/${id}`);
      // While subscribed, what the stream already sent is newer than this answer.
      this.entities.set(id, this.polling ? view : { ...view, ...(this.entities.get(id) || {}) });
    } catch (err) {
      if (err.status !== 404) return;
      this.entities.set(id, null);
    }
    this.notify(id);
  }

  async start() {
    if (this.started) return;
    this.started = true;
    try {
      const unsubscribe = await this.ctx.ws.subscribe("subscribe_entities", {}, (msg) => this.apply(msg.event || {}));
      if (this.closed) unsubscribe();
      else this.unsubscribe = unsubscribe;
    } catch {
      this.polling = true;
      if (!this.closed) this.timer = setInterval(() => { for (const id of this.watchers.keys()) this.fetch(id); }, 10000);
    }
  }

  apply(event) {
    for (const [key, fields] of Object.entries(event.a || {})) this.merge(Number(key), fields);
    for (const [key, change] of Object.entries(event.c || {})) this.merge(Number(key), change["+"] || {});
    for (const id of event.r || []) {
      if (!this.watchers.has(id)) continue;
      this.entities.set(id, null);
      this.notify(id);
    }
  }

  merge(id, fields) {
    if (!this.watchers.has(id)) return;
    this.entities.set(id, restShape(id, fields, { ...(this.entities.get(id) || {}) }));
    this.notify(id);
  }

  /** An action's answer: newer than what we hold, unless the stream already brought something later. */
  answered(entity) {
    const held = this.entities.get(entity.id);
    if (held && held.updated_at && entity.updated_at < held.updated_at) return;
    this.entities.set(entity.id, { ...(held || {}), ...entity });
    this.notify(entity.id);
  }

  notify(id) {
    for (const callback of this.watchers.get(id) || []) callback(this.entities.get(id));
  }

  close() {
    this.closed = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
  }
}
