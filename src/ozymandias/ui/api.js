// The API as the page calls it: the token from session storage on every call,
// problem+json answers turned into errors that carry their `detail`.

const TOKEN_KEY = "ozy-token";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (secret) => sessionStorage.setItem(TOKEN_KEY, secret),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

// Called when the cluster refuses the token (401): the page signs out.
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function headers(extra = {}) {
  return { Authorization: `Bearer ${token.get()}`, ...extra };
}

export async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const problem = await response.json();
    if (problem && problem.detail) detail = problem.detail;
  } catch {
    // Not problem+json (a proxy's page, say): the status line says enough.
  }
  if (response.status === 401) onUnauthorized(detail);
  return new ApiError(response.status, detail);
}

async function send(method, path, body) {
  // A call still on its way from a page left at sign-out has no token to send.
  if (!token.get()) throw new ApiError(401, "signed out");
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    // A read is tried once more: Chromium drops requests in flight when the host's
    // interfaces change (ERR_NETWORK_CHANGED), as they do on a node starting pods.
    if (method !== "GET") throw new ApiError(0, `the node did not answer (${error.message})`);
    try {
      response = await fetch(path, init);
    } catch (again) {
      throw new ApiError(0, `the node did not answer (${again.message})`);
    }
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson(path) {
  return (await send("GET", path)).json();
}

export async function getText(path) {
  return (await send("GET", path)).text();
}

export async function post(path, body) {
  return (await send("POST", path, body)).json();
}
