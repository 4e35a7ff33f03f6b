// The Speak tab: model, voice and generated controls; streamed playback with time to first
// audio and real-time factor; download in any format; this page's history with replay.

import { call, getJSON, listModels, modelCard } from "./api.js";
import { speechControls, el } from "./controls.js";
import { clearErrors, showError } from "./errors.js";
import { PcmStream, audioContext } from "./player.js";

const $ = (id) => document.getElementById(id);
const FORMATS = { mp3: "mp3", opus: "opus", aac: "aac", flac: "flac", wav: "wav", pcm: "pcm" };

let controls = null;
let current = null; // {stream, abort}
let last = null; // {body, blob, rate}

function save(blob, name) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

async function loadVoices(card, wanted) {
  const select = $("speak-voice");
  select.replaceChildren();
  const { data } = await getJSON(`v1/audio/voices?model=${encodeURIComponent(card.id)}`);
  const own = data.filter((v) => v.source !== "library");
  const library = data.filter((v) => v.source === "library");
  const groups = [["Model voices", own], ["Voice library", library]];
  for (const [title, voices] of groups) {
    if (!voices.length) continue;
    const group = el("optgroup", { label: title });
    for (const voice of voices) {
      const extra = [voice.language, voice.gender].filter(Boolean).join(", ");
      group.append(el("option", { value: voice.id, text: extra ? `${voice.name} (${extra})` : voice.name }));
    }
    select.append(group);
  }
  if (!select.options.length) select.append(el("option", { value: "", text: "Default voice" }));
  const pick = [wanted, card.default_voice].find((v) => v && [...select.options].some((o) => o.value === v));
  if (pick) select.value = pick;
  $("speak-voice-count").textContent = `${own.length} model voice${own.length === 1 ? "" : "s"}` + (library.length ? `, ${library.length} from the library` : "");
}

export async function selectModel(modelId, voice) {
  const cards = (await listModels()).filter((m) => m.kind === "tts");
  const listed = cards.find((m) => m.id === modelId) || cards[0];
  if (!listed) return;
  $("speak-model").value = listed.id;
  const card = await modelCard(listed.id);
  $("speak-model-about").textContent = card.description;
  controls = speechControls(card);
  $("speak-controls").replaceChildren(controls.node);
  clearErrors($("speak-form"));
  await loadVoices(card, voice);
}

function setState(state) {
  $("speak-result").dataset.state = state;
  $("speak-go").disabled = state === "streaming";
  $("speak-stop").disabled = state !== "streaming";
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
  $("speak-history").prepend(item);
  $("speak-history-empty").hidden = true;
}

async function speak(event) {
  event.preventDefault();
  const form = $("speak-form");
  clearErrors(form);
  audioContext(); // inside the click: audio may start without another gesture
  const card = await modelCard($("speak-model").value);
  let extra;
  try {
    extra = await controls.values();
  } catch (err) {
    showError(form, { message: `The recording cannot be read: ${err.message}`, param: "reference_audio" });
    return;
  }
  const rate = card.capabilities.sample_rate;
  const body = {
    model: card.id, input: $("speak-input").value, voice: $("speak-voice").value || undefined,
    ...extra, response_format: "pcm", sample_rate: rate,
  };
  const abort = new AbortController();
  const stream = new PcmStream(rate);
  current = { stream, abort };
  setState("streaming");
  $("speak-status").textContent = "Synthesising…";
  const started = performance.now();
  let firstMs = null;
  let startedBeforeEnd = false;
  try {
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
    last = { body, blob, rate: stream.rate };
    $("speak-audio").src = URL.createObjectURL(blob);
    $("speak-download").disabled = false;
    const voiceName = $("speak-voice").selectedOptions[0]?.textContent || "default voice";
    remember({ text: body.input, model: card.id, voice: voiceName, firstMs, rtf, blob });
    $("speak-status").textContent = `Done: ${stream.seconds.toFixed(1)} s of audio.`;
    setState("done");
  } catch (err) {
    stream.stop();
    if (err.name === "AbortError") {
      $("speak-status").textContent = "Stopped.";
      setState("idle");
    } else {
      showError(form, err);
      $("speak-status").textContent = firstMs === null ? "" : "The stream ended early.";
      setState("error");
    }
  } finally {
    current = null;
  }
}

async function download() {
  if (!last) return;
  const format = $("speak-format").value;
  const name = `polyvox-${last.body.model}.${format}`;
  if (format === "wav") return save(last.blob, name);
  if (format === "pcm") return save(last.blob.slice(44, last.blob.size, "audio/pcm"), name);
  $("speak-download").disabled = true;
  $("speak-status").textContent = `Encoding ${format}…`;
  try {
    // the server encodes: the same request again in that format
    const { sample_rate, ...body } = last.body;
    const response = await call("v1/audio/speech", { method: "POST", json: { ...body, response_format: FORMATS[format] } });
    save(await response.blob(), name);
    $("speak-status").textContent = `Saved ${name}.`;
  } catch (err) {
    showError($("speak-form"), err);
  } finally {
    $("speak-download").disabled = false;
  }
}

export async function initSpeak() {
  const select = $("speak-model");
  const cards = (await listModels()).filter((m) => m.kind === "tts");
  select.replaceChildren(...cards.map((m) => el("option", { value: m.id, text: m.id })));
  select.onchange = () => selectModel(select.value).catch((err) => showError($("speak-form"), err));
  $("speak-form").onsubmit = speak;
  $("speak-stop").onclick = () => current && current.abort.abort();
  $("speak-download").onclick = download;
  const input = $("speak-input");
  const count = () => ($("speak-count").textContent = `${input.value.length} characters`);
  input.oninput = count;
  count();
  if (cards.length) await selectModel(cards[0].id);
}
