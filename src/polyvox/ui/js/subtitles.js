// Transcript downloads from one verbose_json result (no second transcription).

function stamp(seconds, separator) {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = String(Math.floor(ms / 3600000)).padStart(2, "0");
  const m = String(Math.floor((ms % 3600000) / 60000)).padStart(2, "0");
  const s = String(Math.floor((ms % 60000) / 1000)).padStart(2, "0");
  return `${h}:${m}:${s}${separator}${String(ms % 1000).padStart(3, "0")}`;
}

export function srt(result) {
  return (result.segments || [])
    .map((seg, i) => `${i + 1}\n${stamp(seg.start, ",")} --> ${stamp(seg.end, ",")}\n${seg.text.trim()}\n`)
    .join("\n");
}

export function vtt(result) {
  const cues = (result.segments || []).map((seg) => `${stamp(seg.start, ".")} --> ${stamp(seg.end, ".")}\n${seg.text.trim()}\n`);
  return `WEBVTT\n\n${cues.join("\n")}`;
}

export function downloads(result) {
  return {
    txt: ["text/plain", `${(result.text || "").trim()}\n`],
    srt: ["application/x-subrip", srt(result)],
    vtt: ["text/vtt", vtt(result)],
    json: ["application/json", JSON.stringify(result, null, 2)],
  };
}
