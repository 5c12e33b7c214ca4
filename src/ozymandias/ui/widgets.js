// The pieces views are drawn with: instance dots, allocation bars, node status.

import { bytes, cores, h, setText } from "./dom.js";

// What an instance's dot shows: one word, also its colour and its glyph (so
// colour is never the only signal).
export function condition(instance) {
  const exited = (instance.containers || []).some(
    (c) => c.state === "exited" && c.exitCode !== 0,
  );
  if (instance.state === "failed") return "failed";
  // A killed container makes its instance "starting" again until it is restarted: that
  // is a death, and shown as one.
  if (exited && instance.state !== "stopping") return "exited";
  if (instance.health === "unhealthy") return "unhealthy";
  if (instance.state === "running" && instance.health === "healthy") return "healthy";
  // Pulling its images and waiting for the jobs it depends on are both on the way up.
  if (["running", "starting", "pulling", "waiting"].includes(instance.state)) return "starting";
  return instance.state || "pending"; // pending, stopping, completed
}

export function describe(instance) {
  const words = [instance.state, instance.health].filter(Boolean).join(", ");
  const where = instance.node ? ` on ${instance.node}` : "";
  const why = instance.reason ? `: ${instance.reason}` : "";
  return `${instance.name}: ${condition(instance)} (${words}${where})${why}`;
}

export function dot(instance) {
  const el = h("span", { class: "dot", role: "img" });
  updateDot(el, instance);
  return el;
}

export function updateDot(el, instance) {
  const state = condition(instance);
  if (el.dataset.state !== state) {
    el.dataset.state = state;
    el.className = `dot dot-${state}`;
  }
  el.dataset.instance = instance.name;
  const label = describe(instance);
  if (el.getAttribute("aria-label") !== label) {
    el.setAttribute("aria-label", label);
    el.title = label;
  }
}

export function stateCell(instance) {
  const el = h("span", { class: "state" }, dot(instance), h("span", { class: "state-word" }));
  updateStateCell(el, instance);
  return el;
}

export function updateStateCell(el, instance) {
  updateDot(el.firstChild, instance);
  setText(el.lastChild, condition(instance));
}

// Each resource, and how "used / capacity" reads for it.
const RESOURCES = [
  ["memory", "Memory", (used, capacity) => `${bytes(used)} / ${bytes(capacity)}`],
  ["disk", "Disk", (used, capacity) => `${bytes(used)} / ${bytes(capacity)}`],
  ["cpu", "CPU", (used, capacity) => `${cores(used)} / ${cores(capacity)} cores`],
];

export function bars() {
  return h(
    "div",
    { class: "bars" },
    RESOURCES.map(([key, label]) =>
      h(
        "div",
        { class: "bar-row", "data-resource": key },
        h("span", { class: "bar-label", text: label }),
        h("span", { class: "bar", role: "meter", "aria-label": label, "aria-valuemin": "0" },
          h("span", { class: "bar-fill" })),
        h("span", { class: "bar-text" }),
      ),
    ),
  );
}

export function updateBars(el, node) {
  RESOURCES.forEach(([key, , format], i) => {
    const row = el.children[i];
    const used = node.allocated?.[key] ?? 0;
    const capacity = node.capacity?.[key] ?? 0;
    const share = capacity > 0 ? Math.min(1, used / capacity) : 0;
    const meter = row.children[1];
    meter.setAttribute("aria-valuemax", String(capacity));
    meter.setAttribute("aria-valuenow", String(used));
    meter.setAttribute("aria-valuetext", format(used, capacity).replace(" / ", " of "));
    meter.classList.toggle("high", share >= 0.9);
    meter.firstChild.style.width = `${(share * 100).toFixed(1)}%`;
    setText(row.children[2], format(used, capacity));
  });
}

// ready, cordoned or draining as the node list says, or lost: gone while the page was open.
export function nodeStatus(node) {
  return node.lost ? "lost" : node.status;
}

export function badge(status) {
  return h("span", { class: `badge badge-${status}`, text: status });
}

export function updateBadge(el, status) {
  el.className = `badge badge-${status}`;
  setText(el, status);
}

export function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return h("span", { class: "muted", text: "no labels" });
  return entries.map(([k, v]) => h("span", { class: "chip", text: `${k}=${v}` }));
}

export function eventRow() {
  return h(
    "li",
    { class: "event" },
    h("time", { class: "event-time" }),
    h("span", { class: "event-kind" }),
    h("span", { class: "event-message" }),
  );
}

export function updateEventRow(el, event, clock) {
  const [time, kind, message] = el.children;
  setText(time, clock(event.time));
  time.setAttribute("datetime", new Date(event.time * 1000).toISOString());
  setText(kind, event.kind);
  kind.dataset.kind = event.kind;
  setText(message, event.message);
}
