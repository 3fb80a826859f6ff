// The websocket client: signs in, numbers commands, routes events to subscriptions, reconnects.

import { session } from "./api.js";

export class HubSocket {
  constructor() {
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.subscriptions = new Map();
    this.streams = new Map();
    this.socket = null;
    this.ready = null;
    this.closed = false;
    this.onStatus = () => {};
  }

  /** Open (or reopen) the socket and sign in; resolves once signed in. */
  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/api/websocket`);
      this.socket = socket;
      socket.onmessage = (message) => this.receive(JSON.parse(message.data), resolve, reject);
      socket.onclose = () => this.lost(reject);
      socket.onerror = () => {};
    });
    return this.ready;
  }

  receive(msg, resolve, reject) {
    if (msg.type === "auth_required") {
      this.socket.send(JSON.stringify({ type: "auth", access_token: session.load()?.access_token }));
    } else if (msg.type === "auth_ok") {
      this.onStatus("connected");
      resolve();
    } else if (msg.type === "auth_invalid") {
      reject(new Error(msg.message || "auth_invalid"));
    } else if (msg.type === "result" || msg.type === "pong") {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.type === "pong" || msg.success) waiter.resolve(msg.result ?? null);
      else waiter.reject(msg.error || { code: "unknown", message: "failed" });
    } else {
      this.listeners.get(msg.id)?.(msg);
    }
  }

  lost(reject) {
    this.onStatus("disconnected");
    const stale = [...this.pending.values()];
    const unanswered = new Set(this.pending.keys());
    this.pending.clear();
    for (const waiter of stale) waiter.reject({ code: "disconnected", message: "connection lost" });
    // A stream is never re-sent (a chat message must not go twice): it ends here, with an error.
    // (One still waiting for its first answer rejects instead, above.)
    const streams = [...this.streams].filter(([id]) => !unanswered.has(id)).map(([, onEvent]) => onEvent);
    this.streams.clear();
    for (const onEvent of streams) onEvent({ kind: "error", code: "disconnected", message: "connection lost" });
    reject(new Error("connection lost"));
    this.ready = null;
    this.socket = null;
    if (!this.closed) setTimeout(() => this.resubscribe(), 1000);
  }

  async resubscribe() {
    const old = [...this.subscriptions.values()];
    this.subscriptions.clear();
    this.listeners.clear();
    try {
      await this.connect();
      for (const sub of old) await this.subscribe(sub.type, sub.fields, sub.onMessage, sub.handle);
    } catch {
      if (!this.closed) setTimeout(() => this.resubscribe(), 3000);
    }
  }

  /** Send one command; resolves to its result. */
  async command(type, fields = {}) {
    await this.connect();
    const id = this.nextId++;
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ id, type, ...fields }));
    return result;
  }

  /** Subscribe; ``onMessage`` gets every message of the subscription; resolves to unsubscribe(). */
  async subscribe(type, fields, onMessage, handle = { id: null }) {
    await this.connect();
    const id = this.nextId++;
    this.listeners.set(id, onMessage);
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ id, type, ...fields }));
    await result;
    handle.id = id;
    this.subscriptions.set(handle, { type, fields, onMessage, handle });
    return () => {
      this.subscriptions.delete(handle);
      this.listeners.delete(handle.id);
      if (this.socket?.readyState === WebSocket.OPEN) {
        this.command("unsubscribe_events", { subscription: handle.id }).catch(() => {});
      }
    };
  }

  /** Send a streaming command (``chat/send``): resolves to its first result, then ``onEvent(event)``
   * gets each ``{type: "event", event}`` with the same id until ``{kind: "done"}``. Unlike a
   * subscription it is not sent again after a reconnect: a lost connection ends it with
   * ``{kind: "error", code: "disconnected"}``. */
  async stream(type, fields, onEvent) {
    await this.connect();
    const id = this.nextId++;
    const forget = () => {
      this.streams.delete(id);
      this.listeners.delete(id);
    };
    this.streams.set(id, onEvent);
    this.listeners.set(id, (msg) => {
      const event = msg.event || {};
      if (event.kind === "done") forget();
      onEvent(event);
    });
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ id, type, ...fields }));
    try {
      return await result;
    } catch (err) {
      forget();
      throw err;
    }
  }

  /** Close for good (sign-out). */
  close() {
    this.closed = true;
    this.socket?.close();
  }
}
