"""docs/benchmarks.md sections: each benchmark rewrites only the text between its markers."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, name: str, title: str, body: str) -> None:
    """Replace the ``name`` section (between its markers) of ``path``, or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(rf"{re.escape(start)}.*?{re.escape(end)}", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = f"{text.rstrip()}\n\n## {title}\n\n{block}\n"
    path.write_text(text, encoding="utf-8")
