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
  let starting = false;
  button.onclick = async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    if (starting) return; // still waiting for the microphone
    starting = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      status.textContent = `No microphone: ${err.message}`;
      return;
    } finally {
      starting = false;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    const started = Date.now();
    recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
    recorder.onstop = () => {
      clearInterval(timer);
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      const suffix = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      const file = new File(chunks, `recording.${suffix}`, { type });
      recorder = null;
      button.setAttribute("aria-pressed", "false");
      status.textContent = `Recorded ${((Date.now() - started) / 1000).toFixed(1)} s`;
      onDone(file);
    };
    recorder.start(250);
    button.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      status.textContent = `Recording… ${((Date.now() - started) / 1000).toFixed(0)} s`;
    }, 500);
    status.textContent = "Recording…";
  };
}
