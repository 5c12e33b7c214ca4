// A node's page: its status and actions, allocation bars, a chart of the last
// hour's allocation (inline SVG) and the instances it runs.

import { act, confirmThen } from "./actions.js";
import { getJson } from "./api.js";
import { h, keyed, setText, svg } from "./dom.js";
import {
  badge, bars, labelChips, nodeStatus, stateCell, updateBadge, updateBars, updateStateCell,
} from "./widgets.js";

const CHART = { width: 600, height: 160, pad: 28 };
const SERIES = [["memory", "Memory"], ["cpu", "CPU"], ["disk", "Disk"]];
const HISTORY_MS = 15000;

export function nodePage(main, store, name) {
  const title = h("h1", { tabindex: "-1", text: name });
  const status = badge("ready");
  const meta = h("p", { class: "muted" });
  const chips = h("p", { class: "chips" });
  const meters = bars();
  const chart = h("figure", { class: "chart", id: "allocation-chart" },
    h("figcaption", { class: "muted", text: "Allocated, % of capacity, over the last hour" }));
  const rows = h("tbody", { id: "node-instances" });
  const button = (label, what, text, call) => {
    const el = h("button", { type: "button", "data-action": what, text: `${label}…` });
    el.addEventListener("click", () => confirmThen(`${label} ${name}`, text, () => call(name)));
    return el;
  };
  const cordon = button("Cordon", "cordon", `Place no new instances on ${name}? Those it runs stay.`,
    act.cordon);
  const uncordon = button("Uncordon", "uncordon",
    `Place instances on ${name} again (this also ends a drain)?`, act.uncordon);
  const drain = button("Drain", "drain", `Cordon ${name} and move every instance off it `
    + "(each healthy elsewhere first; what is left after 5 minutes is stopped)?", act.drain);
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/", text: "Overview" }), " / node"),
    h("div", { class: "page-head" }, h("div", { class: "title-with-badge" }, title, status),
      h("div", { class: "actions" }, cordon, uncordon, drain)),
    meta, chips,
    h("section", { "aria-labelledby": "alloc-title" },
      h("h2", { id: "alloc-title", text: "Allocated / capacity" }), meters, chart),
    h("section", { "aria-labelledby": "ni-title" }, h("h2", { id: "ni-title", text: "Instances" }),
      h("div", { class: "table-wrap" }, h("table", { class: "table" },
        h("thead", {}, h("tr", {}, ...["Instance", "State", "Health", "Version", "Pod IP"]
          .map((c) => h("th", { scope: "col", text: c })))), rows))),
  );

  let stopped = false;
  async function drawHistory() {
    if (stopped) return;
    try {
      const history = await getJson(`/v1/nodes/${encodeURIComponent(name)}/allocation-history`);
      drawChart(chart, history);
    } catch (error) {
      setText(chart.firstChild, `No history: ${error.detail}`);
    }
  }
  drawHistory();
  const timer = setInterval(drawHistory, HISTORY_MS);

  function update() {
    const node = store.nodes().find((n) => n.name === name);
    if (!node) {
      setText(meta, store.synced.node ? "No such node." : "Loading…");
      return;
    }
    const state = nodeStatus(node);
    updateBadge(status, state);
    cordon.hidden = node.cordoned || node.lost;
    uncordon.hidden = !node.cordoned || node.lost;
    drain.hidden = state === "draining" || node.lost;
    const load = node.load === undefined ? "" : ` · load ${node.load.toFixed(2)} per core`;
    setText(meta, `${node.address} · API ${node.apiUrl}${load}`);
    const labels = JSON.stringify(node.labels || {});
    if (chips.dataset.labels !== labels) {
      chips.dataset.labels = labels;
      chips.replaceChildren(...[labelChips(node.labels)].flat());
    }
    updateBars(meters, node);
    keyed(rows, store.instances((i) => i.node === name), (i) => i.name, instanceRow, updateRow);
  }
  update.stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return update;
}

function instanceRow(instance) {
  return h("tr", { "data-instance": instance.name },
    h("th", { scope: "row" }, h("a", { href: `#/jobs/${encodeURIComponent(instance.job)}`,
      text: instance.name })),
    h("td", {}, stateCell(instance)), h("td"), h("td"), h("td"));
}

function updateRow(row, instance) {
  updateStateCell(row.children[1].firstChild, instance);
  setText(row.children[2], instance.health || "–");
  setText(row.children[3], instance.specVersion ? `v${instance.specVersion}` : "–");
  setText(row.children[4], instance.podIP || "–");
}

function drawChart(figure, history) {
  const { width, height, pad } = CHART;
  const samples = history.samples;
  const now = samples.length ? Math.max(Date.now() / 1000, samples[samples.length - 1].time) : 0;
  const start = now - history.windowSeconds;
  const x = (t) => pad + ((t - start) / history.windowSeconds) * (width - pad - 8);
  const y = (share) => height - pad - share * (height - pad - 8);
  const grid = [0, 0.5, 1].map((share) => svg("g", {},
    svg("line", { x1: pad, x2: width - 8, y1: y(share), y2: y(share), class: "grid" }),
    svg("text", { x: 2, y: y(share) + 4, class: "axis" }, `${share * 100}%`)));
  const lines = SERIES.map(([key]) => {
    const points = samples.map((s, i) => {
      const share = s.capacity[key] > 0 ? s.allocated[key] / s.capacity[key] : 0;
      // A step line: allocation holds its value until the next sample.
      const next = i + 1 < samples.length ? samples[i + 1].time : now;
      return `${x(s.time).toFixed(1)},${y(share).toFixed(1)} ${x(next).toFixed(1)},${y(share).toFixed(1)}`;
    });
    return svg("polyline", { points: points.join(" "), class: `series series-${key}` });
  });
  const ticks = [60, 30, 0].map((m) => svg("text", { x: x(now - m * 60) - 14, y: height - 8,
    class: "axis" }, m ? `−${m}m` : "now"));
  const last = samples[samples.length - 1];
  const summary = last
    ? SERIES.map(([key, label]) => `${label} ${Math.round(100 * (last.capacity[key]
      ? last.allocated[key] / last.capacity[key] : 0))}%`).join(", ")
    : "no samples yet";
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Allocation over the last hour; now ${summary}` },
  ...grid, ...lines, ...ticks);
  const legend = h("p", { class: "legend" }, SERIES.map(([key, label]) =>
    h("span", { class: `key key-${key}`, text: label })));
  figure.replaceChildren(chart, legend, figure.querySelector("figcaption")
    || h("figcaption", { class: "muted", text: "Allocated, % of capacity, over the last hour" }));
}
