// The Transcribe tab: a file or a recording; text with segment and word timings (a word
// seeks the audio); txt, SRT, VTT and JSON downloads from the one result.

import { call, listModels, modelCard } from "./api.js";
import { el, transcriptionControls } from "./controls.js";
import { clearErrors, showError } from "./errors.js";
import { recordButton } from "./recorder.js";
import { downloads } from "./subtitles.js";

const $ = (id) => document.getElementById(id);
let controls = null;
let selecting = 0;
let recorded = null;
let links = [];

function time(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - m * 60).toFixed(2).padStart(5, "0")}`;
}

function seekTo(seconds) {
  const audio = $("stt-audio");
  audio.currentTime = seconds;
  audio.play();
}

function show(result, source) {
  const audio = $("stt-audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(source);
  $("stt-audio").hidden = false;
  const text = $("stt-text");
  text.replaceChildren();
  const words = result.words || [];
  if (words.length) {
    for (const word of words) {
      const at = `${time(word.start)}–${time(word.end)}`;
      const button = el("button", { type: "button", class: "word", text: word.word.trim(), title: at, "aria-label": `${word.word.trim()}, ${at}` });
      button.dataset.start = String(word.start);
      button.onclick = () => seekTo(word.start);
      text.append(button, " ");
    }
  } else {
    text.textContent = result.text;
  }
  const rows = (result.segments || []).map((seg) => {
    const jump = el("button", { type: "button", class: "link", text: time(seg.start), "aria-label": `Play from ${time(seg.start)}` });
    jump.onclick = () => seekTo(seg.start);
    return el("tr", {}, el("td", {}, jump), el("td", { text: time(seg.end) }), el("td", { text: seg.text.trim() }));
  });
  $("stt-segments").replaceChildren(...rows);
  links.forEach((href) => URL.revokeObjectURL(href));
  links = [];
  const list = $("stt-downloads");
  list.replaceChildren();
  for (const [ext, [type, body]] of Object.entries(downloads(result))) {
    const href = URL.createObjectURL(new Blob([body], { type }));
    links.push(href);
    list.append(el("a", { class: "button", href, download: `transcript.${ext}`, "data-format": ext, text: ext.toUpperCase() }));
  }
  $("stt-result").hidden = false;
  $("stt-meta").textContent = `${result.language || ""} · ${time(result.duration || 0)} of audio · ${(result.segments || []).length} segments`;
}

async function selectModel(modelId) {
  const generation = ++selecting;
  const form = $("stt-form");
  const submit = form.querySelector("button[type=submit]");
  controls = null;
  submit.disabled = true;
  try {
    const card = await modelCard(modelId);
    if (generation !== selecting) return; // another model was picked meanwhile
    controls = transcriptionControls(card);
    $("stt-controls").replaceChildren(controls.node);
    clearErrors(form);
  } catch (err) {
    if (generation === selecting) showError(form, err);
  } finally {
    if (generation === selecting) submit.disabled = !controls;
  }
}

async function transcribe(event) {
  event.preventDefault();
  const form = $("stt-form");
  clearErrors(form);
  if (!controls) return;
  const file = $("stt-file").files[0] || recorded;
  if (!file) {
    showError(form, { message: "Choose an audio file or record one.", param: "file" });
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  data.append("model", $("stt-model").value);
  data.append("response_format", "verbose_json");
  data.append("timestamp_granularities[]", "segment");
  data.append("timestamp_granularities[]", "word");
  controls.fill(data);
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  $("stt-status").textContent = "Transcribing…";
  const started = performance.now();
  try {
    const result = await (await call("v1/audio/transcriptions", { method: "POST", form: data })).json();
    show(result, file);
    $("stt-status").textContent = `Done in ${((performance.now() - started) / 1000).toFixed(2)} s.`;
  } catch (err) {
    $("stt-status").textContent = "";
    showError(form, err);
  } finally {
    submit.disabled = false;
  }
}

export async function initTranscribe() {
  const cards = (await listModels()).filter((m) => m.kind === "stt");
  const select = $("stt-model");
  select.replaceChildren(...cards.map((m) => el("option", { value: m.id, text: m.id })));
  select.onchange = () => selectModel(select.value);
  $("stt-form").onsubmit = transcribe;
  $("stt-file").onchange = () => {
    recorded = null;
  };
  recordButton($("stt-record"), $("stt-record-status"), (file) => {
    recorded = file;
    $("stt-file").value = "";
  });
  $("stt-empty").hidden = cards.length > 0;
  if (cards.length) await selectModel(cards[0].id);
}
