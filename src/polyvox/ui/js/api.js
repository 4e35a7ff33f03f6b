// Calls to the polyvox API: relative URLs (so a path prefix works), the API key from
// session storage as a Bearer header (never in a URL), and errors as the API's own message.

const KEY = "polyvox.apiKey";

export class ApiError extends Error {
  constructor(status, message, param = null, code = null) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

/** Listeners told when the server wants a (valid) key. */
export const onKeyNeeded = new EventTarget();

export function url(path) {
  return new URL(path, document.baseURI).toString();
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let param = null;
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      param = body.error.param ?? null;
      code = body.error.code ?? null;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message, param, code);
}

/** fetch() with the key; resolves to the Response when it is 2xx, else throws ApiError. */
export async function call(path, { method = "GET", json, form, signal, headers = {} } = {}) {
  const options = { method, signal, headers: { ...headers } };
  const key = apiKey.get();
  if (key) options.headers.Authorization = `Bearer ${key}`;
  if (json !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(json);
  } else if (form !== undefined) {
    options.body = form;
  }
  let response;
  try {
    response = await fetch(url(path), options);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "the server cannot be reached");
  }
  if (response.ok) return response;
  const error = await errorOf(response);
  if (response.status === 401) onKeyNeeded.dispatchEvent(new CustomEvent("needed", { detail: error }));
  throw error;
}

export async function getJSON(path, options) {
  return (await call(path, options)).json();
}

/** Models (cards of /v1/models), cached until refresh(). A remote model's card there is
 * its configuration until it has been asked; modelCard() asks it. */
let models = null;
const cards = new Map();
export async function listModels(refresh = false) {
  if (!models || refresh) {
    models = (await getJSON("v1/models")).data;
    cards.clear();
  }
  return models;
}

/** One model's full card (a remote is asked what it can do; a model in an engine
 * environment may start its worker). */
export async function modelCard(id) {
  if (!cards.has(id)) cards.set(id, getJSON(`v1/models/${encodeURIComponent(id)}`));
  try {
    return await cards.get(id);
  } catch (err) {
    cards.delete(id);
    throw err;
  }
}

/** Text-to-speech models that clone voices: the listing says so for local ones and for
 * those in engine environments; remote ones are asked (without starting any worker). */
export async function cloningModels() {
  const tts = (await listModels()).filter((m) => m.kind === "tts");
  const full = await Promise.all(
    tts.map((m) => (m.capabilities.device === "remote" ? modelCard(m.id).catch(() => m) : m)),
  );
  return full.filter((m) => m.capabilities.voice_cloning);
}
