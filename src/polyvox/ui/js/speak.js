// The Speak tab: model, voice and generated controls; streamed playback with time to first
// audio and real-time factor; download in any format; this page's history with replay.

import { call, getJSON, listModels, modelCard } from "./api.js";
import { speechControls, el } from "./controls.js";
import { clearErrors, showError } from "./errors.js";
import { PcmStream, audioContext } from "./player.js";

const $ = (id) => document.getElementById(id);
const HISTORY = 20;

let controls = null; // the generated controls of the selected model
let selecting = 0; // generation of the latest model selection (older ones are dropped)
let busy = false; // a synthesis is being requested or streamed
let abort = null; // its AbortController
let playing = null; // the PcmStream playing now (it may outlive its download)
let last = null; // {body, blob}
let runs = 0;

function save(blob, name) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

async function voiceOptions(card) {
  const { data } = await getJSON(`v1/audio/voices?model=${encodeURIComponent(card.id)}`);
  const own = data.filter((v) => v.source !== "library");
  const library = data.filter((v) => v.source === "library");
  const groups = [];
  for (const [title, voices] of [["Model voices", own], ["Voice library", library]]) {
    if (!voices.length) continue;
    const group = el("optgroup", { label: title });
    for (const voice of voices) {
      const extra = [voice.language, voice.gender].filter(Boolean).join(", ");
      group.append(el("option", { value: voice.id, text: extra ? `${voice.name} (${extra})` : voice.name }));
    }
    groups.push(group);
  }
  if (!groups.length) groups.push(el("option", { value: "", text: "Default voice" }));
  const count = `${own.length} model voice${own.length === 1 ? "" : "s"}` + (library.length ? `, ${library.length} from the library` : "");
  return { groups, count };
}

function ready() {
  $("speak-go").disabled = busy || !controls;
}

/** Show `modelId` (its full card when `ask`; else the listing's, which starts nothing). */
export async function selectModel(modelId, voice, { ask = true } = {}) {
  const generation = ++selecting;
  const cards = (await listModels()).filter((m) => m.kind === "tts");
  const listed = cards.find((m) => m.id === modelId) || cards[0];
  if (!listed) return;
  $("speak-model").value = listed.id;
  controls = null;
  ready();
  $("speak-model-about").textContent = "Loading…";
  try {
    const card = ask || listed.capabilities.device === "remote" ? await modelCard(listed.id) : listed;
    const { groups, count } = await voiceOptions(card);
    if (generation !== selecting) return; // another model was picked meanwhile
    const built = speechControls(card);
    $("speak-controls").replaceChildren(built.node);
    $("speak-voice").replaceChildren(...groups);
    const select = $("speak-voice");
    const pick = [voice, select.value, card.default_voice].find((v) => v && [...select.options].some((o) => o.value === v));
    if (pick) select.value = pick;
    $("speak-voice-count").textContent = count;
    $("speak-model-about").textContent = card.description;
    clearErrors($("speak-form"));
    controls = built;
  } catch (err) {
    if (generation !== selecting) return;
    $("speak-model-about").textContent = "";
    showError($("speak-form"), err);
  } finally {
    if (generation === selecting) ready();
  }
}

/** The voices again (the library changed), keeping the selection when it still exists. */
export function reloadVoices() {
  const model = $("speak-model").value;
  if (model) selectModel(model, $("speak-voice").value).catch(() => {});
}

function setState(state) {
  $("speak-result").dataset.state = state;
  $("speak-stop").disabled = !(busy || (playing && playing.sources.size));
  ready();
}

function stopPlayback() {
  if (playing) playing.stop();
  playing = null;
  setState($("speak-result").dataset.state);
}

function stats({ firstMs, totalMs, seconds, startedBeforeEnd }) {
  const rtf = seconds ? totalMs / 1000 / seconds : 0;
  const result = $("speak-result");
  result.dataset.firstAudioMs = String(Math.round(firstMs));
  result.dataset.totalMs = String(Math.round(totalMs));
  result.dataset.audioSeconds = seconds.toFixed(3);
  result.dataset.playingBeforeEnd = String(startedBeforeEnd);
  $("stat-first").textContent = `${Math.round(firstMs)} ms`;
  $("stat-total").textContent = `${(totalMs / 1000).toFixed(2)} s`;
  $("stat-audio").textContent = `${seconds.toFixed(2)} s`;
  $("stat-rtf").textContent = rtf ? `${rtf.toFixed(3)} (${(1 / rtf).toFixed(1)}× real time)` : "–";
  return rtf;
}

function remember(entry) {
  const item = el("li", { class: "history-item" });
  const url = URL.createObjectURL(entry.blob);
  item.dataset.url = url;
  const play = el("button", { type: "button", text: "Play", "aria-label": `Play: ${entry.text.slice(0, 40)}` });
  play.addEventListener("click", () => {
    const audio = $("speak-audio");
    audio.src = url;
    audio.play();
  });
  const download = el("a", { href: url, download: `polyvox-${entry.model}.wav`, text: "WAV", class: "button" });
  item.append(
    el("p", { class: "history-text", text: entry.text }),
    el("p", { class: "hint", text: `${entry.model} · ${entry.voice} · first audio ${Math.round(entry.firstMs)} ms · RTF ${entry.rtf.toFixed(3)}` }),
    el("div", { class: "actions" }, play, download),
  );
  const list = $("speak-history");
  list.prepend(item);
  while (list.children.length > HISTORY) {
    const old = list.lastElementChild;
    URL.revokeObjectURL(old.dataset.url);
    old.remove();
  }
  $("speak-history-empty").hidden = true;
}

async function speak(event) {
  event.preventDefault();
  if (busy || !controls) return;
  busy = true;
  const form = $("speak-form");
  const result = $("speak-result");
  result.dataset.run = String(++runs);
  clearErrors(form);
  stopPlayback();
  audioContext(); // inside the click: audio may start without another gesture
  abort = new AbortController();
  setState("streaming");
  $("speak-status").textContent = "Synthesising…";
  let stream = null;
  let firstMs = null;
  try {
    const card = await modelCard($("speak-model").value);
    const extra = await controls.values();
    const rate = card.capabilities.sample_rate;
    const body = {
      model: card.id, input: $("speak-input").value, voice: $("speak-voice").value || undefined,
      ...extra, response_format: "pcm", sample_rate: rate,
    };
    stream = playing = new PcmStream(rate);
    const started = performance.now();
    let startedBeforeEnd = false;
    const response = await call("v1/audio/speech", { method: "POST", json: body, signal: abort.signal });
    const got = Number(response.headers.get("X-Sample-Rate"));
    if (got && got !== rate) stream.rate = got;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value.length) continue;
      if (firstMs === null) {
        firstMs = performance.now() - started;
        $("stat-first").textContent = `${Math.round(firstMs)} ms`;
        $("speak-status").textContent = "Playing while the rest is synthesised…";
      }
      stream.push(value);
      startedBeforeEnd ||= stream.playing;
    }
    const totalMs = performance.now() - started;
    startedBeforeEnd ||= stream.playing;
    if (firstMs === null) throw new Error("the server sent no audio");
    const rtf = stats({ firstMs, totalMs, seconds: stream.seconds, startedBeforeEnd });
    const blob = stream.wav();
    last = { body, blob };
    const audio = $("speak-audio");
    if (audio.src.startsWith("blob:") && !document.querySelector(`[data-url="${audio.src}"]`)) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(blob);
    $("speak-download").disabled = false;
    const voiceName = $("speak-voice").selectedOptions[0]?.textContent || "default voice";
    remember({ text: body.input, model: card.id, voice: voiceName, firstMs, rtf, blob });
    $("speak-status").textContent = `Done: ${stream.seconds.toFixed(1)} s of audio.`;
    busy = false;
    setState("done");
  } catch (err) {
    if (stream) stream.stop();
    busy = false;
    if (err.name === "AbortError") {
      $("speak-status").textContent = "Stopped.";
      setState("idle");
    } else {
      showError(form, err);
      $("speak-status").textContent = firstMs === null ? "" : "The stream ended early.";
      setState("error");
    }
  } finally {
    abort = null;
  }
}

function stop() {
  if (abort) abort.abort();
  stopPlayback();
}

async function download() {
  if (!last) return;
  const format = $("speak-format").value;
  const name = `polyvox-${last.body.model}.${format}`;
  if (format === "wav") return save(last.blob, name);
  if (format === "pcm") return save(last.blob.slice(44, last.blob.size, "audio/pcm"), name);
  const form = $("speak-form");
  clearErrors(form);
  $("speak-download").disabled = true;
  $("speak-status").textContent = `Synthesising again as ${format}…`;
  try {
    // the server encodes: the same request again in that format
    const { sample_rate, ...body } = last.body;
    const response = await call("v1/audio/speech", { method: "POST", json: { ...body, response_format: format } });
    save(await response.blob(), name);
    $("speak-status").textContent = `Saved ${name}.`;
  } catch (err) {
    showError(form, err);
  } finally {
    $("speak-download").disabled = false;
  }
}

export async function initSpeak(preferred) {
  const select = $("speak-model");
  const cards = (await listModels()).filter((m) => m.kind === "tts");
  select.replaceChildren(...cards.map((m) => el("option", { value: m.id, text: m.id })));
  select.onchange = () => selectModel(select.value);
  $("speak-form").onsubmit = speak;
  $("speak-stop").onclick = stop;
  $("speak-download").onclick = download;
  $("speak-audio").onplay = stopPlayback; // one thing plays at a time
  const input = $("speak-input");
  const count = () => ($("speak-count").textContent = `${input.value.length} characters`);
  input.oninput = count;
  count();
  setInterval(() => playing && !busy && !playing.sources.size && stopPlayback(), 500);
  const first = cards.find((m) => m.id === preferred) || cards[0];
  // the page opens on a model without asking for more: that would start an environment's worker
  if (first) await selectModel(first.id, undefined, { ask: false });
  else $("speak-model-about").textContent = "No text-to-speech model is served here.";
}
