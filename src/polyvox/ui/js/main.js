// Start-up: tabs, the API-key prompt, and each tab's first load.

import { apiKey, getJSON, listModels, onKeyNeeded } from "./api.js";
import { showError } from "./errors.js";
import { initSpeak, reloadVoices, selectModel } from "./speak.js";
import { initTranscribe } from "./transcribe.js";
import { initVoices, refresh as refreshVoices } from "./voices.js";
import { refresh as refreshServer, watch } from "./server.js";

const $ = (id) => document.getElementById(id);
const TABS = ["speak", "voices", "transcribe", "server"];
let current = "speak";

function showTab(name, focus = false) {
  current = name;
  for (const tab of TABS) {
    const on = tab === name;
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
    if (on && focus) button.focus();
  }
  watch(name === "server" && !$("key-dialog").open);
  if (name === "voices") refreshVoices().catch((err) => showError($("voice-form"), err));
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function wireTabs() {
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    button.addEventListener("click", () => showTab(tab));
    button.addEventListener("keydown", (event) => {
      const i = TABS.indexOf(tab);
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      showTab(TABS[(moves[event.key] + TABS.length) % TABS.length], true);
    });
  }
}

function askForKey(message) {
  const dialog = $("key-dialog");
  watch(false); // no polling behind the prompt: each poll would ask again
  $("key-button").hidden = false;
  if (dialog.open) return; // keep what is being typed
  $("key-message").textContent = message;
  $("key-input").value = "";
  dialog.showModal();
  $("key-input").focus();
}

/** A model to open the page on that starts nothing: loaded, or at least not in an engine
 * environment (whose worker the page would otherwise start). */
function preferredModel(status) {
  const tts = status.models.filter((m) => m.kind === "tts");
  return (tts.find((m) => m.loaded) || tts.find((m) => m.placement !== "environment") || tts[0] || {}).id;
}

async function start() {
  $("server-line").textContent = "Connecting…";
  let status;
  try {
    await listModels(true);
    status = await getJSON("v1/status");
    $("server-line").textContent = `${status.status === "ready" ? "Ready" : status.status} · ${status.models.length} models · polyvox ${status.version}`;
  } catch (err) {
    if (err.status !== 401) $("server-line").textContent = `The server answered: ${err.message}`;
    return;
  }
  document.body.dataset.ready = "false";
  const inits = [
    [initSpeak(preferredModel(status)), "speak-form"],
    [initVoices(useVoice, reloadVoices), "voice-form"],
    [initTranscribe(), "stt-form"],
  ];
  const settled = await Promise.allSettled(inits.map(([promise]) => promise));
  settled.forEach((outcome, i) => outcome.status === "rejected" && showError($(inits[i][1]), outcome.reason));
  document.body.dataset.ready = "true";
  const wanted = location.hash.slice(1);
  showTab(TABS.includes(wanted) ? wanted : current);
}

async function useVoice(model, voiceId) {
  showTab("speak");
  await selectModel(model, voiceId);
  $("speak-voice").focus();
}

function wireKey() {
  onKeyNeeded.addEventListener("needed", (event) => {
    const had = apiKey.get();
    askForKey(had ? `The server refused this key: ${event.detail.message}` : "This server needs an API key.");
    $("server-line").textContent = "Waiting for an API key…";
  });
  $("key-form").addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    apiKey.set($("key-input").value.trim());
    start();
  });
  $("key-forget").addEventListener("click", () => {
    apiKey.set("");
    $("key-dialog").close();
    start();
  });
  $("key-button").addEventListener("click", () => askForKey("Change or forget the API key kept for this browser tab."));
  if (apiKey.get()) $("key-button").hidden = false;
}

wireTabs();
wireKey();
$("server-refresh").addEventListener("click", () =>
  refreshServer().catch((err) => ($("server-updated").textContent = `Not updated: ${err.message}`)),
);
start();
