// A job's page: its instances (live), deployment, events, a log tail and its spec.

import { act, confirmThen } from "./actions.js";
import { getJson, getText } from "./api.js";
import { clock, h, keyed, setText } from "./dom.js";
import { eventRow, labelChips, stateCell, updateEventRow, updateStateCell } from "./widgets.js";

const LOG_LINES = [50, 200, 1000];

export function jobPage(main, store, name) {
  const title = h("h1", { tabindex: "-1", text: name });
  const meta = h("p", { class: "muted job-meta" });
  const chips = h("p", { class: "chips" });
  const scaleInput = h("input", {
    id: "scale-count", type: "number", min: "0", max: "10000", required: true,
    inputmode: "numeric",
  });
  const scaleForm = h(
    "form", { class: "inline-form", id: "scale-form" },
    h("label", { for: "scale-count", text: "Instances" }), scaleInput,
    h("button", { type: "submit", text: "Scale…" }),
  );
  scaleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const count = Number(scaleInput.value);
    const job = store.items.job.get(name);
    const from = job ? ` from ${job.numInstances}` : "";
    confirmThen(`Scale ${name}`, `Scale ${name}${from} to ${count} instances?`,
      () => act.scale(name, count));
  });
  const promote = h("button", { type: "button", id: "promote", text: "Promote canaries…",
    disabled: true });
  promote.addEventListener("click", () => confirmThen(`Promote ${name}`,
    `Promote the canaries of ${name}: the rollout replaces the other instances.`,
    () => act.promote(name).then(refreshDeployment)));
  const deployment = h("div", { class: "deployment", id: "deployment" },
    h("p", { class: "muted", text: "Loading…" }));
  const rows = h("tbody", { id: "instances" });
  const events = h("ol", { class: "events" });
  const spec = h("pre", { class: "spec", id: "spec", text: "Loading…" });
  const logs = logTail();
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/", text: "Overview" }),
      " / job"),
    h("div", { class: "page-head" }, title, h("div", { class: "actions" }, scaleForm, promote)),
    meta, chips,
    section("Deployment", deployment),
    section("Instances", h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ...["Instance", "State", "Health", "Node", "Version", "Restarts",
        "Pod IP", ""].map((c) => h("th", { scope: "col", text: c })))), rows))),
    section("Logs", logs.el),
    section("Events", events),
    section("Spec", spec),
  );

  let deploymentTimer = null;
  let stopped = false;
  async function refreshDeployment() {
    if (stopped) return;
    try {
      const d = await getJson(`/v1/jobs/${encodeURIComponent(name)}/deployment`);
      drawDeployment(deployment, d);
      promote.disabled = !(d.active && d.canary > 0 && !d.promoted);
    } catch (error) {
      promote.disabled = true;
      deployment.replaceChildren(h("p", { class: "muted",
        text: error.status === 404 ? "No deployment yet." : `Deployment: ${error.detail}` }));
    }
  }
  let jobEvents = [];
  getJson(`/v1/jobs/${encodeURIComponent(name)}`).then((detail) => {
    setText(spec, detail.specAsWritten || JSON.stringify(detail.spec, null, 2));
    jobEvents = detail.events || [];
    update();
  }, (error) => setText(spec, error.detail));
  refreshDeployment();

  let lastSeen = "";
  function update() {
    const job = store.items.job.get(name);
    if (job) {
      const system = job.type === "system";
      setText(meta, `${job.type} job · version ${job.version} · ${job.running}/${job.numInstances}`
        + ` running · priority ${job.priority}`);
      scaleForm.hidden = system;
      if (document.activeElement !== scaleInput && scaleInput.dataset.shown !== String(job.numInstances)) {
        scaleInput.value = job.numInstances;
        scaleInput.dataset.shown = String(job.numInstances);
      }
      const labels = JSON.stringify(job.labels || {});
      if (chips.dataset.labels !== labels) {
        chips.dataset.labels = labels;
        chips.replaceChildren(...[labelChips(job.labels)].flat());
      }
    } else if (store.synced.job) {
      setText(meta, "This job does not exist (any more).");
    }
    const instances = store.instances((i) => i.job === name);
    keyed(rows, instances, (i) => i.name, instanceRow, updateInstanceRow);
    logs.update(instances);
    const live = store.events((e) => e.job === name, 20);
    const merged = new Map([...jobEvents, ...live].map((e) => [`${e.time}-${e.kind}-${e.message}`, e]));
    const shown = [...merged.values()].sort((a, b) => b.time - a.time).slice(0, 20);
    keyed(events, shown, (e) => `${e.time}-${e.kind}-${e.message}`, eventRow,
      (el, e) => updateEventRow(el, e, clock));
    // The deployment follows the instances: fetched again (at most twice a second) when they move.
    const seen = JSON.stringify([job?.version, instances.map((i) => [i.state, i.health, i.specVersion])]);
    if (seen !== lastSeen) {
      lastSeen = seen;
      clearTimeout(deploymentTimer);
      deploymentTimer = setTimeout(refreshDeployment, 500);
    }
  }
  update.stop = () => {
    stopped = true;
    clearTimeout(deploymentTimer);
  };
  return update;
}

function section(label, body) {
  const id = `section-${label.toLowerCase()}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id, text: label }), body);
}

function drawDeployment(el, d) {
  const share = d.desired > 0 ? Math.min(1, d.healthy / d.desired) : 1;
  el.replaceChildren(
    h("p", {}, h("span", { class: `badge badge-${d.status}`, text: d.status }),
      ` version ${d.version}: ${d.healthy} of ${d.desired} healthy, ${d.placed} placed`
      + (d.unhealthy ? `, ${d.unhealthy} unhealthy` : "")
      + (d.canary ? `, ${d.canary} canar${d.canary === 1 ? "y" : "ies"}${d.promoted ? " (promoted)" : ""}` : "")),
    h("span", { class: "bar wide", role: "progressbar", "aria-label": "deployment progress",
      "aria-valuemin": "0", "aria-valuemax": String(d.desired), "aria-valuenow": String(d.healthy) },
    h("span", { class: "bar-fill" })),
    h("p", { class: "muted", text: d.description || "" }),
  );
  el.querySelector(".bar-fill").style.width = `${(share * 100).toFixed(1)}%`;
}

function instanceRow(instance) {
  const restart = h("button", { type: "button", class: "small", text: "Restart…" });
  restart.addEventListener("click", () => confirmThen(`Restart ${instance.name}`,
    `Replace the pod of ${instance.name} by a new one? Its other instances are left alone.`,
    () => act.restart(instance.name)));
  return h("tr", { "data-instance": instance.name },
    h("th", { scope: "row", text: instance.name }), h("td", {}, stateCell(instance)),
    h("td"), h("td", {}, h("a")), h("td"), h("td"), h("td"), h("td", {}, restart));
}

function updateInstanceRow(row, i) {
  const cells = row.children;
  updateStateCell(cells[1].firstChild, i);
  setText(cells[2], i.health || "–");
  const link = cells[3].firstChild;
  setText(link, i.node || "–");
  if (i.node) link.href = `#/nodes/${encodeURIComponent(i.node)}`;
  else link.removeAttribute("href");
  setText(cells[4], i.specVersion ? `v${i.specVersion}` : "–");
  setText(cells[5], String(i.restarts));
  setText(cells[6], i.podIP || "–");
  cells[7].firstChild.disabled = !i.node || i.state === "pending";
}

function logTail() {
  const instance = h("select", { id: "log-instance" });
  const container = h("select", { id: "log-container" });
  const lines = h("select", { id: "log-lines" },
    ...LOG_LINES.map((n) => h("option", { value: String(n), text: `last ${n} lines` })));
  const out = h("pre", { class: "logs", id: "log-output", tabindex: "0", "aria-live": "off",
    text: "Choose an instance and a container, then Show." });
  const form = h("form", { class: "inline-form log-form" },
    h("label", { for: "log-instance", text: "Instance" }), instance,
    h("label", { for: "log-container", text: "Container" }), container,
    h("label", { for: "log-lines", class: "visually-hidden", text: "Lines" }), lines,
    h("button", { type: "submit", text: "Show" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!instance.value) return;
    const query = new URLSearchParams({ tail: lines.value });
    if (container.value) query.set("container", container.value);
    out.textContent = "Loading…";
    try {
      const text = await getText(`/v1/instances/${encodeURIComponent(instance.value)}/logs?${query}`);
      out.textContent = text || "(no output)";
      out.scrollTop = out.scrollHeight;
    } catch (error) {
      out.textContent = error.status === 403
        ? "Logs need a deploy or admin token; this token may only read."
        : `Could not read the logs: ${error.detail}`;
    }
  });
  let containersOf = new Map();
  instance.addEventListener("change", () => fillContainers());
  function fillContainers() {
    const names = containersOf.get(instance.value) || [];
    if (container.dataset.names === JSON.stringify(names)) return;
    container.dataset.names = JSON.stringify(names);
    const keep = container.value;
    container.replaceChildren(...names.map((c) => h("option", { value: c, text: c })));
    if (names.includes(keep)) container.value = keep;
  }
  return {
    el: h("div", {}, form, out),
    update(instances) {
      containersOf = new Map(instances.map((i) => [i.name, (i.containers || []).map((c) => c.name)]));
      const names = instances.map((i) => i.name);
      if (JSON.stringify(names) !== instance.dataset.names) {
        instance.dataset.names = JSON.stringify(names);
        const keep = instance.value;
        instance.replaceChildren(...names.map((n) => h("option", { value: n, text: n })));
        if (names.includes(keep)) instance.value = keep;
      }
      fillContainers();
    },
  };
}
