// Streamed speech: 16-bit PCM from a fetch() body is played through Web Audio as it
// arrives (the first phrase plays while the rest is synthesised), and kept so the whole
// clip can be replayed, seeked and downloaded as WAV when the stream ends.

let shared = null;

/** The page's one AudioContext; create or resume it inside a user gesture (autoplay rules). */
export function audioContext() {
  if (!shared) shared = new AudioContext({ latencyHint: "interactive" });
  if (shared.state === "suspended") shared.resume();
  return shared;
}

export function wavBlob(chunks, rate) {
  const samples = chunks.reduce((n, c) => n + c.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((ch, i) => header.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + samples * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true);
  header.setUint16(22, 1, true);
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, samples * 2, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

export class PcmStream {
  constructor(rate) {
    this.ctx = audioContext();
    this.rate = rate;
    this.chunks = [];
    this.samples = 0;
    this.carry = null;
    this.next = 0;
    this.startedAt = null; // context time the first audio was scheduled to start
    this.sources = new Set();
    this.muted = false;
  }

  /** Keep bytes of little-endian 16-bit mono PCM, and play them right after what is
   * already queued (unless muted). */
  push(bytes) {
    let data = bytes;
    if (this.carry) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
      this.carry = null;
    }
    const even = data.length - (data.length % 2);
    if (even < data.length) this.carry = data.slice(even);
    if (!even) return;
    const pcm = new Int16Array(data.slice(0, even).buffer);
    this.chunks.push(pcm);
    this.samples += pcm.length;
    if (this.muted) return;
    const buffer = this.ctx.createBuffer(1, pcm.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    const now = this.ctx.currentTime;
    if (this.next < now + 0.01) this.next = now + 0.03; // first chunk, or an underrun
    if (this.startedAt === null) this.startedAt = this.next;
    source.start(this.next);
    this.next += buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Seconds of audio received. */
  get seconds() {
    return this.samples / this.rate;
  }

  /** Whether audio is audibly playing now (its scheduled start has passed). */
  get playing() {
    return this.startedAt !== null && this.ctx.currentTime >= this.startedAt && this.sources.size > 0;
  }

  /** Silence it now; what still arrives is kept (for the WAV) but not played. */
  stop() {
    this.muted = true;
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // not started yet
      }
    }
    this.sources.clear();
  }

  wav() {
    return wavBlob(this.chunks, this.rate);
  }
}
