"""The Piper benchmark runs end to end (--quick, one sentence) and reports every column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (
    "first raw s", "first polyvox s", "first ratio",
    "total raw s", "total polyvox s", "total ratio",
    "audio s/s raw", "audio s/s polyvox", "audio s/s ratio",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.integration
def test_quick_bench_prints_and_writes_every_column(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    command = [
        sys.executable, "bench/piper_bench.py", "--quick",
        "--concurrency", "1", "--quiet-wait", "0", "--retries", "0",
    ]  # fmt: skip
    done = subprocess.run(
        [*command, "--write", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    header = next(line for line in done.stdout.splitlines() if "first raw s" in line)
    assert all(column in header for column in COLUMNS), header
    assert any(line.split()[:2] == ["sentence", "1"] for line in done.stdout.splitlines())
    doc = out.read_text(encoding="utf-8")
    assert "| " + " | ".join(("text", "conc", "n", *COLUMNS)) + " |" in doc
    for section in ("### Targets", "### mp3 vs wav CPU", "### Memory", "nproc"):
        assert section in doc
