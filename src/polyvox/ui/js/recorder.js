// Microphone recording with MediaRecorder: a button that toggles, and the recording as a File.

export function supported() {
  return Boolean(navigator.mediaDevices && window.MediaRecorder);
}

/** Wire `button` to record; `onDone(file)` gets the recording; `status` shows progress. */
export function recordButton(button, status, onDone) {
  let recorder = null;
  let timer = null;
  if (!supported()) {
    button.disabled = true;
    status.textContent = "Recording needs a browser with microphone access (HTTPS or localhost).";
    return;
  }
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      status.textContent = `No microphone: ${err.message}`;
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    const started = Date.now();
    recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
    recorder.onstop = () => {
      clearInterval(timer);
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      const file = new File(chunks, `recording.${type.includes("ogg") ? "ogg" : "webm"}`, { type });
      recorder = null;
      button.textContent = "Record";
      button.setAttribute("aria-pressed", "false");
      status.textContent = `Recorded ${((Date.now() - started) / 1000).toFixed(1)} s`;
      onDone(file);
    };
    recorder.start(250);
    button.textContent = "Stop recording";
    button.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      status.textContent = `Recording… ${((Date.now() - started) / 1000).toFixed(0)} s`;
    }, 500);
    status.textContent = "Recording…";
  });
}
