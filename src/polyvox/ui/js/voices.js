// The Voices tab: the voice library. Add a voice from files or the microphone (consent
// required), play, rename and delete voices, and use one in Speak.

import { call, cloningModels, getJSON } from "./api.js";
import { el } from "./controls.js";
import { clearErrors, showError } from "./errors.js";
import { recordButton } from "./recorder.js";

const $ = (id) => document.getElementById(id);
let recorded = null;
let onUse = () => {};
let onChange = () => {};

async function play(voice, audio) {
  if (!audio.src) {
    const response = await call(`v1/audio/voices/${encodeURIComponent(voice.id)}/audio`);
    audio.src = URL.createObjectURL(await response.blob());
  }
  audio.hidden = false;
  audio.play();
}

/** Reload the list after a change, tell Speak, and put focus somewhere useful. */
async function changed(focusId) {
  await refresh();
  onChange();
  const target = (focusId && document.querySelector(`[data-voice-id="${CSS.escape(focusId)}"] h3`)) || $("library-title");
  target.tabIndex = -1;
  target.focus();
}

function row(voice, cloners) {
  const item = el("li", { class: "voice", "data-voice-id": voice.id });
  const title = el("h3", { class: "voice-name", text: voice.name });
  const meta = el("p", {
    class: "hint",
    text: [voice.language || "any language", `${voice.seconds.toFixed(1)} s`, `consent: ${voice.consent.by}`].join(" · "),
  });
  const audio = el("audio", { controls: true, hidden: true, "aria-label": `Reference of ${voice.name}` });
  const status = el("p", { class: "form-error", role: "alert", hidden: true });
  const playButton = el("button", { type: "button", text: "Play", "aria-label": `Play ${voice.name}` });
  playButton.onclick = () => play(voice, audio).catch((err) => ((status.hidden = false), (status.textContent = err.message)));
  const use = el("button", { type: "button", text: "Use in Speak", "aria-label": `Use ${voice.name} in Speak`, disabled: !cloners.length });
  use.onclick = () => onUse(cloners[0], voice.id);
  const rename = el("button", { type: "button", text: "Rename", "aria-label": `Rename ${voice.name}` });
  rename.onclick = () => startRename(item, voice, title);
  const remove = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${voice.name}` });
  remove.onclick = async () => {
    if (remove.dataset.confirm !== "yes") {
      remove.dataset.confirm = "yes";
      remove.textContent = "Confirm delete";
      setTimeout(() => {
        remove.dataset.confirm = "";
        remove.textContent = "Delete";
      }, 5000);
      return;
    }
    try {
      await call(`v1/audio/voices/${encodeURIComponent(voice.id)}`, { method: "DELETE" });
      await changed(null);
    } catch (err) {
      status.hidden = false;
      status.textContent = err.message;
    }
  };
  item.append(title, meta, el("div", { class: "actions" }, playButton, use, rename, remove), audio, status);
  if (voice.transcript) item.insertBefore(el("p", { class: "transcript-line", text: `“${voice.transcript}”` }), audio);
  return item;
}

function startRename(item, voice, title) {
  const id = `rename-${voice.id}`;
  const form = el("form", { class: "rename", novalidate: true });
  const input = el("input", { id, value: voice.name, "data-param": "name", required: true });
  form.append(
    el("div", { class: "field" }, el("label", { for: id, text: "New name" }), input),
    el("p", { class: "form-error", role: "alert", hidden: true }),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: "Save" }), el("button", { type: "button", text: "Cancel" })),
  );
  form.querySelector("button[type=button]").onclick = () => form.replaceWith(title);
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await call(`v1/audio/voices/${encodeURIComponent(voice.id)}`, { method: "PATCH", json: { name: input.value } });
      await changed(voice.id);
    } catch (err) {
      showError(form, err);
    }
  };
  title.replaceWith(form);
  input.focus();
  input.select();
}

export async function refresh() {
  for (const audio of document.querySelectorAll("#voice-list audio")) if (audio.src) URL.revokeObjectURL(audio.src);
  const [{ data }, models] = await Promise.all([getJSON("v1/audio/voices?source=library&detail=true"), cloningModels()]);
  const cloners = models.map((m) => m.id);
  $("voice-list").replaceChildren(...data.map((voice) => row(voice, cloners)));
  $("voice-list-empty").hidden = data.length > 0;
  $("voice-cloners").textContent = cloners.length
    ? `Models that speak library voices: ${cloners.join(", ")}.`
    : "No model served here clones voices: library voices can be kept, but not spoken.";
  const languages = new Set(models.flatMap((m) => m.languages));
  $("voice-languages").replaceChildren(...[...languages].sort().map((code) => el("option", { value: code })));
}

async function create(event) {
  event.preventDefault();
  const form = $("voice-form");
  clearErrors(form);
  const data = new FormData();
  data.append("name", $("voice-name").value.trim());
  const files = [...$("voice-file").files];
  if (recorded) files.push(recorded);
  for (const file of files) data.append("audio_sample", file, file.name);
  for (const [key, id] of [["language", "voice-language"], ["transcript", "voice-transcript"]]) {
    const value = $(id).value.trim();
    if (value) data.append(key, value);
  }
  if ($("voice-consent").checked) {
    const by = $("voice-consent-by").value.trim();
    if (!by) {
      showError(form, { param: "consent_by", message: "Say who gave their consent: their name." });
      return;
    }
    data.append("consent", by);
    data.append("consent_statement", $("voice-consent-text").textContent.trim());
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  $("voice-status").textContent = "Preparing the reference…";
  try {
    const voice = await (await call("v1/audio/voices", { method: "POST", form: data })).json();
    form.reset();
    recorded = null;
    $("voice-recording").hidden = true;
    $("voice-record-status").textContent = "";
    $("voice-status").textContent = `Added “${voice.name}”.`;
    await refresh();
    onChange();
  } catch (err) {
    $("voice-status").textContent = "";
    showError(form, err);
  } finally {
    submit.disabled = false;
  }
}

export async function initVoices(use, change) {
  onUse = use;
  onChange = change;
  $("voice-form").onsubmit = create;
  recordButton($("voice-record"), $("voice-record-status"), (file) => {
    recorded = file;
    const preview = $("voice-recording");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  });
  await refresh();
}
