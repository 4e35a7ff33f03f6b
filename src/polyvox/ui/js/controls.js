// Form controls generated from a model card's capabilities, so a new engine needs no UI
// change: languages, speed, instructions, voice attributes, reference audio and every
// engine parameter (a slider with its range, a checkbox, a list of choices or a field).
// A control left untouched is not sent: the model's own default applies.

let serial = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}
export { el };

function label(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function step(spec) {
  if (spec.type === "int") return 1;
  const span = (spec.maximum ?? 1) - (spec.minimum ?? 0);
  return span > 10 ? 0.1 : 0.01;
}

/** One control for a ParamSpec; returns {row, read(), reset()} where read() is undefined
 * while untouched. */
function specControl(name, spec, prefix) {
  const id = `${prefix}-${name}-${++serial}`;
  const help = spec.description ? el("p", { class: "hint", id: `${id}-help`, text: spec.description }) : null;
  const describedBy = help ? help.id : undefined;
  const row = el("div", { class: "field", "data-control": name });
  let touched = false;
  const touch = () => {
    touched = true;
    row.classList.add("changed");
  };
  const reset = (apply) => {
    touched = false;
    row.classList.remove("changed");
    apply();
  };

  if (spec.type === "bool") {
    const box = el("input", { type: "checkbox", id, "data-param": name, "aria-describedby": describedBy });
    box.checked = Boolean(spec.default);
    box.addEventListener("change", touch);
    row.classList.add("check");
    row.append(box, el("label", { for: id, text: label(name) }));
    if (help) row.append(help);
    return { row, read: () => (touched ? box.checked : undefined), reset: () => reset(() => (box.checked = Boolean(spec.default))) };
  }
  row.append(el("label", { for: id, text: label(name) }));
  if (spec.choices && spec.choices.length) {
    const select = el("select", { id, "data-param": name, "aria-describedby": describedBy });
    select.append(el("option", { value: "", text: spec.default == null ? "Model default" : `Default (${spec.default})` }));
    for (const choice of spec.choices) select.append(el("option", { value: choice, text: choice }));
    select.addEventListener("change", touch);
    row.append(select);
    if (help) row.append(help);
    return { row, read: () => (touched && select.value !== "" ? select.value : undefined), reset: () => reset(() => (select.value = "")) };
  }
  if (spec.type === "int" || spec.type === "float") {
    const bounded = spec.minimum != null && spec.maximum != null;
    const number = el("input", {
      type: "number", id, "data-param": name, "aria-describedby": describedBy, inputmode: "decimal",
      step: step(spec), min: spec.minimum ?? undefined, max: spec.maximum ?? undefined,
      placeholder: spec.default == null ? "default" : String(spec.default),
    });
    const initial = spec.default ?? (bounded ? (spec.minimum + spec.maximum) / 2 : "");
    number.value = spec.default == null ? "" : String(spec.default);
    const line = el("div", { class: "slider" });
    if (bounded && spec.maximum - spec.minimum <= 10000) {
      const range = el("input", {
        type: "range", min: spec.minimum, max: spec.maximum, step: step(spec), "aria-label": `${label(name)} slider`,
        "data-range-for": name, tabindex: "-1",
      });
      range.value = String(initial);
      range.addEventListener("input", () => {
        number.value = range.value;
        touch();
      });
      number.addEventListener("input", () => {
        if (number.value !== "") range.value = number.value;
      });
      line.append(range);
    }
    number.addEventListener("input", touch);
    line.append(number);
    const reset = el("button", { type: "button", class: "link", text: "Reset", "aria-label": `Reset ${label(name)}` });
    line.append(reset);
    row.append(line);
    if (help) row.append(help);
    const control = {
      row,
      read: () => (touched && number.value !== "" ? Number(number.value) : undefined),
      reset: () => {
        touched = false;
        row.classList.remove("changed");
        number.value = spec.default == null ? "" : String(spec.default);
        const range = line.querySelector("input[type=range]");
        if (range) range.value = String(initial);
      },
    };
    reset.addEventListener("click", control.reset);
    return control;
  }
  const text = el("input", { type: "text", id, "data-param": name, "aria-describedby": describedBy, placeholder: spec.default ?? "" });
  text.addEventListener("input", touch);
  row.append(text);
  if (help) row.append(help);
  return { row, read: () => (touched && text.value !== "" ? text.value : undefined), reset: () => reset(() => (text.value = "")) };
}

function languageControl(card, prefix, { auto }) {
  const id = `${prefix}-language-${++serial}`;
  const select = el("select", { id, "data-param": "language" });
  select.append(el("option", { value: "", text: auto }));
  for (const code of card.languages) select.append(el("option", { value: code, text: code }));
  const row = el("div", { class: "field", "data-control": "language" }, el("label", { for: id, text: "Language" }), select);
  return { row, read: () => select.value || undefined, reset: () => (select.value = "") };
}

function group(title, controls) {
  const fieldset = el("fieldset", { class: "controls" }, el("legend", { text: title }));
  fieldset.append(...controls.map((c) => c.row));
  return fieldset;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** Speech controls for a TTS card: {node, values() -> Promise<object>}. */
export function speechControls(card) {
  const caps = card.capabilities;
  const node = el("div", { class: "generated", "data-model": card.id });
  const top = [];
  const keyed = {};
  if (card.languages.length > 1) top.push((keyed.language = languageControl(card, "speak", { auto: "Model default" })));
  if (caps.speed) {
    const [low, high] = caps.speed_range || [0.25, 4];
    top.push((keyed.speed = specControl("speed", { type: "float", description: `From ${low} to ${high}.`, default: 1, minimum: low, maximum: high }, "speak")));
  }
  if (caps.instructions) {
    const id = `speak-instructions-${++serial}`;
    const area = el("textarea", { id, rows: 2, "data-param": "instructions", placeholder: "How to speak: warm, slow, whispering…" });
    const row = el("div", { class: "field wide", "data-control": "instructions" }, el("label", { for: id, text: "Instructions" }), area);
    top.push((keyed.instructions = { row, read: () => area.value.trim() || undefined }));
  }
  if (top.length) node.append(group("Voice and language", top));

  const attributes = Object.entries(caps.voice_attributes || {}).map(([name, spec]) => [name, specControl(name, spec, "speak-attr")]);
  attributes.forEach(([name, c]) => c.row.querySelector("[data-param]")?.setAttribute("data-param", `voice_attributes.${name}`));
  if (attributes.length) node.append(group("Voice attributes", attributes.map(([, c]) => c)));

  let reference = null;
  if (caps.voice_cloning) {
    const id = `speak-reference-${++serial}`;
    const file = el("input", { type: "file", id, accept: "audio/*", "data-param": "reference_audio" });
    const rows = [el("div", { class: "field", "data-control": "reference_audio" }, el("label", { for: id, text: "Clone from a recording (optional)" }), file)];
    let text = null;
    if (caps.reference_text) {
      const tid = `speak-reference-text-${++serial}`;
      text = el("input", { type: "text", id: tid, "data-param": "reference_text", placeholder: "What the recording says (else it is transcribed)" });
      rows.push(el("div", { class: "field", "data-control": "reference_text" }, el("label", { for: tid, text: "Recording transcript" }), text));
    }
    const fieldset = el("fieldset", { class: "controls" }, el("legend", { text: "Cloning" }), ...rows);
    node.append(fieldset);
    reference = { file, text };
  }

  const params = Object.entries(caps.params || {}).map(([name, spec]) => [name, specControl(name, spec, "speak-param")]);
  if (params.length) {
    const details = el("details", { class: "params", open: params.length <= 4 });
    details.append(el("summary", { text: `Engine parameters (${caps.engine})` }), group("Engine parameters", params.map(([, c]) => c)));
    node.append(details);
  }

  async function values() {
    const body = {};
    for (const [key, control] of Object.entries(keyed)) {
      const value = control.read();
      if (value !== undefined) body[key] = value;
    }
    const attrs = {};
    for (const [name, control] of attributes) {
      const value = control.read();
      if (value !== undefined) attrs[name] = value;
    }
    if (Object.keys(attrs).length) body.voice_attributes = attrs;
    for (const [name, control] of params) {
      const value = control.read();
      if (value !== undefined) body[name] = value;
    }
    if (reference && reference.file.files.length) {
      body.reference_audio = await readFile(reference.file.files[0]);
      if (reference.text && reference.text.value.trim()) body.reference_text = reference.text.value.trim();
    }
    return body;
  }
  return { node, values };
}

/** Transcription controls for an STT card: {node, fill(FormData)}. */
export function transcriptionControls(card) {
  const node = el("div", { class: "generated", "data-model": card.id });
  const language = card.languages.length > 1 ? languageControl(card, "stt", { auto: "Detect" }) : null;
  const params = Object.entries(card.capabilities.params || {}).map(([name, spec]) => [name, specControl(name, spec, "stt-param")]);
  if (language) node.append(group("Language", [language]));
  if (params.length) {
    const details = el("details", { class: "params" });
    details.append(el("summary", { text: `Engine parameters (${card.capabilities.engine})` }), group("Engine parameters", params.map(([, c]) => c)));
    node.append(details);
  }
  function fill(form) {
    const lang = language && language.read();
    if (lang) form.append("language", lang);
    for (const [name, control] of params) {
      const value = control.read();
      if (value !== undefined) form.append(name, String(value));
    }
  }
  return { node, fill };
}
