// Every write the page makes asks first, in a <dialog>, and shows the API's
// problem detail when it is refused (a read token gets 403: said so, not hidden).

import { post } from "./api.js";

const dialog = () => document.getElementById("confirm");

export function confirmThen(title, text, action) {
  const box = dialog();
  const form = document.getElementById("confirm-form");
  const error = document.getElementById("confirm-error");
  const ok = document.getElementById("confirm-ok");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  error.textContent = "";
  ok.disabled = false;
  ok.hidden = false;
  ok.textContent = "Confirm";
  form.onsubmit = async (submit) => {
    submit.preventDefault();
    ok.disabled = true;
    ok.textContent = "Working…";
    try {
      await action();
      box.close();
    } catch (failure) {
      error.textContent = failure.status
        ? `Refused (${failure.status}): ${failure.detail}`
        : `Failed: ${failure.message}`;
      // A refusal (4xx) will not change by asking again; a failure on the way might.
      ok.hidden = failure.status >= 400 && failure.status < 500;
      ok.textContent = "Retry";
      ok.disabled = false;
    }
  };
  document.getElementById("confirm-cancel").onclick = () => box.close();
  box.showModal();
  ok.focus();
}

const path = encodeURIComponent;

export const act = {
  scale: (job, count) => post(`/v1/jobs/${path(job)}/scale`, { numInstances: count }),
  restart: (instance) => post(`/v1/instances/${path(instance)}/restart`),
  promote: (job) => post(`/v1/jobs/${path(job)}/promote`),
  cordon: (node) => post(`/v1/nodes/${path(node)}/cordon`),
  uncordon: (node) => post(`/v1/nodes/${path(node)}/uncordon`),
  drain: (node) => post(`/v1/nodes/${path(node)}/drain`, {}),
};
