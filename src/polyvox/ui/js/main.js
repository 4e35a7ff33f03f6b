// Start-up: tabs, the API-key prompt, and each tab's first load.

import { apiKey, getJSON, listModels, onKeyNeeded } from "./api.js";
import { selectModel, initSpeak } from "./speak.js";
import { initTranscribe } from "./transcribe.js";
import { initVoices, refresh as refreshVoices } from "./voices.js";
import { refresh as refreshServer, watch } from "./server.js";

const $ = (id) => document.getElementById(id);
const TABS = ["speak", "voices", "transcribe", "server"];

function showTab(name, focus = false) {
  for (const tab of TABS) {
    const on = tab === name;
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
    if (on && focus) button.focus();
  }
  watch(name === "server");
  if (name === "voices") refreshVoices().catch(() => {});
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
  $("key-message").textContent = message;
  $("key-input").value = "";
  $("key-button").hidden = false;
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

async function start() {
  $("server-line").textContent = "Connecting…";
  try {
    await listModels(true);
    const status = await getJSON("v1/status");
    $("server-line").textContent = `${status.status === "ready" ? "Ready" : status.status} · ${status.models.length} models · polyvox ${status.version}`;
  } catch (err) {
    if (err.status !== 401) $("server-line").textContent = `The server answered: ${err.message}`;
    return;
  }
  document.body.dataset.ready = "false";
  await Promise.all([initSpeak(), initVoices(useVoice), initTranscribe()]);
  document.body.dataset.ready = "true";
  const wanted = location.hash.slice(1);
  showTab(TABS.includes(wanted) ? wanted : "speak");
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
$("server-refresh").addEventListener("click", () => refreshServer());
start();
