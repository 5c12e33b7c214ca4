// What the page knows of the cluster, kept equal to the watch streams.
// A RELIST (or a fresh connection) fills a new map that replaces the old one
// at the BOOKMARK, so a client drops what it had without flashing empty.
// A node that goes while the page is open is kept as "lost".

const KEEP_EVENTS = 200;

export class Store {
  constructor() {
    this.items = { node: new Map(), job: new Map(), instance: new Map(), event: new Map() };
    this.synced = { node: false, job: false, instance: false, event: false };
    this.lost = new Map();
    this.refilling = {};
    this.listeners = new Set();
    this.scheduled = false;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(kind, { type, name, object }) {
    const refill = this.refilling[kind];
    const map = refill || this.items[kind];
    switch (type) {
      case "RELIST":
        this.refilling[kind] = new Map();
        return;
      case "ADDED":
      case "MODIFIED":
        map.set(name, object);
        if (kind === "node") this.lost.delete(name);
        break;
      case "DELETED":
        map.delete(name);
        if (kind === "node" && object) this.lost.set(name, object);
        break;
      case "BOOKMARK":
        if (refill) {
          if (kind === "node" && this.synced.node) {
            for (const [old, node] of this.items.node) if (!refill.has(old)) this.lost.set(old, node);
          }
          this.items[kind] = refill;
          delete this.refilling[kind];
        }
        this.synced[kind] = true;
        break;
      default:
        return;
    }
    if (kind === "event") this.trimEvents();
    this.changed();
  }

  trimEvents() {
    const events = this.items.event;
    if (events.size <= KEEP_EVENTS) return;
    const oldest = [...events].sort((a, b) => a[1].time - b[1].time);
    for (const [name] of oldest.slice(0, events.size - KEEP_EVENTS)) events.delete(name);
  }

  changed() {
    // One redraw per frame, however many messages arrived in it.
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  clear() {
    for (const kind of Object.keys(this.items)) {
      this.items[kind] = new Map();
      this.synced[kind] = false;
    }
    this.lost.clear();
    this.refilling = {};
  }

  nodes() {
    const live = [...this.items.node.values()].map((node) => ({ ...node, lost: false }));
    const lost = [...this.lost.values()].map((node) => ({ ...node, lost: true }));
    return [...live, ...lost].sort((a, b) => a.name.localeCompare(b.name));
  }

  jobs() {
    return [...this.items.job.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  instances(filter = () => true) {
    return [...this.items.instance.values()]
      .filter(filter)
      .sort((a, b) => a.job.localeCompare(b.job) || a.index - b.index);
  }

  events(filter = () => true, limit = 20) {
    return [...this.items.event.values()]
      .filter(filter)
      .sort((a, b) => b.time - a.time)
      .slice(0, limit);
  }
}
