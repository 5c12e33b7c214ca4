// The overview: every node as a card, every job with its instances as dots,
// and the latest events. Drawn once, then updated in place on each change.

import { clock, h, keyed, setText } from "./dom.js";
import {
  badge, bars, dot, eventRow, labelChips, nodeStatus, updateBadge, updateBars, updateDot,
  updateEventRow,
} from "./widgets.js";

let firstJobMarked = false;

export function overview(main, store) {
  const nodes = h("div", { class: "cards", id: "nodes" });
  const jobs = h("ul", { class: "jobs", id: "jobs" });
  const events = h("ol", { class: "events", id: "events" });
  const emptyJobs = h("p", { class: "muted", text: "No jobs yet: ozy apply -f job.yaml" });
  main.replaceChildren(
    h("h1", { class: "visually-hidden", tabindex: "-1", text: "Cluster overview" }),
    h("section", { "aria-labelledby": "nodes-title" },
      h("h2", { id: "nodes-title", text: "Nodes" }), nodes),
    h("section", { "aria-labelledby": "jobs-title" },
      h("h2", { id: "jobs-title", text: "Jobs" }), legend(), jobs, emptyJobs),
    h("section", { "aria-labelledby": "events-title" },
      h("h2", { id: "events-title", text: "Recent events" }), events),
  );

  return function update() {
    keyed(nodes, store.nodes(), (n) => n.name, nodeCard, (el, node) =>
      updateNodeCard(el, node, store));
    const allJobs = store.jobs();
    keyed(jobs, allJobs, (j) => j.name, jobRow, (el, job) => updateJobRow(el, job, store));
    emptyJobs.hidden = allJobs.length > 0 || !store.synced.job;
    keyed(events, store.events(() => true, 15), (e) => `${e.time}-${e.kind}-${e.message}`,
      eventRow, (el, e) => updateEventRow(el, e, clock));
    if (allJobs.length && !firstJobMarked) {
      firstJobMarked = true;
      performance.mark("ozy-first-job");
    }
  };
}

function legend() {
  const states = [["healthy", "healthy"], ["starting", "starting"],
    ["failed", "failed, exited or unhealthy"], ["pending", "pending"], ["stopping", "stopping"],
    ["completed", "completed"]];
  return h("p", { class: "legend dot-legend", "aria-hidden": "true" }, states.map(([state, text]) =>
    h("span", {}, h("span", { class: `dot dot-${state}` }), ` ${text}`)));
}

function nodeCard(node) {
  const link = h("a", { href: `#/nodes/${encodeURIComponent(node.name)}`, text: node.name });
  return h(
    "article",
    { class: "card node-card", "data-node": node.name },
    h("header", { class: "card-head" }, h("h3", {}, link), badge("ready")),
    h("p", { class: "muted address" }),
    bars(),
    h("p", { class: "chips" }),
  );
}

function updateNodeCard(el, node, store) {
  const [head, address, meters, chips] = el.children;
  const status = nodeStatus(node);
  updateBadge(head.lastChild, status);
  el.classList.toggle("lost", node.lost);
  const count = store.instances((i) => i.node === node.name && i.state !== "pending").length;
  setText(address, `${node.address} · ${count} instance${count === 1 ? "" : "s"}`);
  updateBars(meters, node);
  const labelText = JSON.stringify(node.labels || {});
  if (chips.dataset.labels !== labelText) {
    chips.dataset.labels = labelText;
    chips.replaceChildren(...[labelChips(node.labels)].flat());
  }
}

function jobRow(job) {
  return h(
    "li",
    { class: "job-row", "data-job": job.name },
    h("a", { class: "job-name", href: `#/jobs/${encodeURIComponent(job.name)}`, text: job.name }),
    h("span", { class: "job-count muted" }),
    h("span", { class: "dots", role: "list", "aria-label": `instances of ${job.name}` }),
  );
}

function updateJobRow(el, job, store) {
  const [, count, dots] = el.children;
  const instances = store.instances((i) => i.job === job.name);
  const system = job.type === "system" ? " (system)" : "";
  setText(count, `${job.running}/${job.numInstances} running${system} · v${job.version}`);
  keyed(dots, instances, (i) => i.name,
    (i) => h("span", { role: "listitem", class: "dot-item" }, dot(i)),
    (wrap, i) => updateDot(wrap.firstChild, i));
}
