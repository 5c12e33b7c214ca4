// Server-sent events read with fetch() and a ReadableStream: EventSource cannot
// send the Authorization header. A stream resumes with Last-Event-ID after a
// break (the node answers what it missed, or RELIST and the whole state).

import { failure, headers } from "./api.js";

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;

export function parseEvents(buffer, emit) {
  // Messages end with a blank line; what follows the last one waits for more.
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    const message = { id: null, event: "message", data: [] };
    for (const line of block.split(/\r?\n/)) {
      if (line === "" || line.startsWith(":")) continue; // a keepalive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") message.data.push(value);
      else if (field === "id") message.id = value;
      else if (field === "event") message.event = value;
    }
    if (message.data.length || message.event !== "message") emit(message);
  }
  return rest;
}

export class Watch {
  // `sink(message)` gets {type, name, object}: ADDED, MODIFIED, DELETED, RELIST or
  // BOOKMARK; `status(text)` how the stream is doing.
  constructor(path, sink, status) {
    this.path = path;
    this.sink = sink;
    this.status = status;
    this.lastId = null;
    this.closed = false;
    this.paused = false;
    this.running = false;
    this.controller = null;
    this.retryMs = RETRY_FIRST_MS;
    this.run();
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
  }

  // A hidden tab pauses: a browser opens at most 6 connections to one host and a
  // dashboard holds 4, so another tab of the same browser could not load. Resuming
  // sends Last-Event-ID: the node answers what was missed (or RELIST).
  pause() {
    this.paused = true;
    if (this.controller) this.controller.abort();
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    if (!this.running) this.run();
  }

  async run() {
    this.running = true;
    while (!this.closed && !this.paused) {
      try {
        await this.once();
        this.retryMs = RETRY_FIRST_MS;
      } catch (error) {
        if (this.closed || this.paused) break;
        if (error.status === 401 || error.status === 403) break;
        this.status("reconnecting");
      }
      if (this.closed || this.paused) break;
      const wait = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.running = false;
  }

  async once() {
    this.controller = new AbortController();
    const extra = this.lastId === null ? {} : { "Last-Event-ID": this.lastId };
    const sep = this.path.includes("?") ? "&" : "?";
    const response = await fetch(`${this.path}${sep}watch=true`, {
      headers: headers({ Accept: "text/event-stream", ...extra }),
      signal: this.controller.signal,
      cache: "no-store",
    });
    if (!response.ok) throw await failure(response);
    // A fresh start (no id to resume from) replaces whatever the store holds.
    if (this.lastId === null) this.sink({ type: "RELIST" });
    this.status("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + value, (message) => this.dispatch(message));
    }
    this.status("reconnecting");
  }

  dispatch(message) {
    if (message.id !== null) this.lastId = message.id;
    let data = {};
    try {
      data = message.data.length ? JSON.parse(message.data.join("\n")) : {};
    } catch {
      return; // a message this page does not understand is skipped, not fatal
    }
    const type = data.type || message.event;
    this.sink({ type, name: data.name, object: data.object });
  }
}
