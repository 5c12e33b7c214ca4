// The dashboard: sign-in, the watch streams that keep the store live, and the
// hash routes (#/, #/jobs/NAME, #/nodes/NAME).

import { getJson, token, whenUnauthorized } from "./api.js";
import { jobPage } from "./job.js";
import { nodePage } from "./node.js";
import { overview } from "./overview.js";
import { Store } from "./store.js";
import { Watch } from "./stream.js";

const STREAMS = { node: "/v1/nodes", job: "/v1/jobs", instance: "/v1/instances", event: "/v1/events" };

const store = new Store();
let watches = [];
let view = null;
let unsubscribe = () => {};

const $ = (id) => document.getElementById(id);

function setLive(text) {
  $("live").textContent = text;
  $("live").dataset.state = text.startsWith("live") ? "live" : "down";
}

function startStreams() {
  const status = new Map();
  watches = Object.entries(STREAMS).map(([kind, path]) => new Watch(
    path,
    (message) => store.apply(kind, message),
    (text) => {
      status.set(kind, text);
      const worst = [...status.values()].find((s) => !s.startsWith("live"));
      setLive(worst || (status.size === watches.length ? [...status.values()][0] : "connecting"));
    },
  ));
}

function route(navigated = false) {
  if (view && view.stop) view.stop();
  unsubscribe();
  const main = $("main");
  const [, kind, name] = location.hash.match(/^#\/(jobs|nodes)\/(.+)$/) || [];
  if (kind === "jobs") view = jobPage(main, store, decodeURIComponent(name));
  else if (kind === "nodes") {
    view = nodePage(main, store, decodeURIComponent(name));
  } else view = overview(main, store);
  unsubscribe = store.subscribe(() => view());
  view();
  // After following a link, focus goes to the new page's heading (screen readers read it).
  const heading = main.querySelector("h1");
  if (navigated && heading) heading.focus();
}

function signedIn() {
  $("sign-in").hidden = true;
  $("main").hidden = false;
  $("sign-out").hidden = false;
  startStreams();
  route();
}

function signOut(reason = "") {
  token.clear();
  for (const watch of watches) watch.close();
  watches = [];
  store.clear();
  if (view && view.stop) view.stop();
  unsubscribe();
  $("main").hidden = true;
  $("main").replaceChildren();
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = reason;
  setLive("signed out");
  $("token").focus();
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const secret = $("token").value.trim();
  token.set(secret);
  try {
    await getJson("/v1/version");
  } catch (error) {
    token.clear();
    $("sign-in-error").textContent = `Not signed in: ${error.detail}`;
    return;
  }
  $("token").value = "";
  signedIn();
});
$("sign-out").addEventListener("click", () => signOut());
document.addEventListener("visibilitychange", () => {
  for (const watch of watches) {
    if (document.hidden) watch.pause();
    else watch.resume();
  }
});
whenUnauthorized((detail) => signOut(`Signed out: ${detail}`));
window.addEventListener("hashchange", () => token.get() && route(true));

if (token.get()) signedIn();
else signOut();
