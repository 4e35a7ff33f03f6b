"""The shape of the source: modules about one thing, functions that fit on a screen, and
the formatter's layout everywhere but in data tables.

A module over ``MAX_MODULE_LINES`` is split by responsibility, a function over
``MAX_FUNCTION_LINES`` by what it does, and ``# fmt: skip`` keeps a hand layout only
where the layout is the point: a literal table of data, listed in ``TABLES``.
"""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "polyvox"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
SKIP = "fmt: skip"

TABLES = {
    # Each is a module-level literal of data laid out as a table: one formatted entry a
    # line would stretch it several times over and hide its rows and columns.
    ("codecs.py", "_SPECS"): "format -> codec spec, each row's rates and options aligned",
    ("settings.py", "OPENAI_VOICES"): "OpenAI's voice names, a few to a line",
    ("languages.py", "WHISPER_LANGUAGES"): "Whisper's ~100 language codes -> names",
    ("checks.py", "_PY_TYPES"): "parameter type name -> the Python types it accepts",
    ("api/routes/transcriptions.py", "_KNOWN_FIELDS"): "the form fields the route reads",
    ("engines/kokoro/options.py", "LANGUAGES"): "Kokoro voice prefix -> language code",
    ("engines/chatterbox/model.py", "LANGUAGES"): "Chatterbox's 23 language codes",
    ("engines/xtts/model.py", "LANGUAGES"): "XTTS-v2's 17 language codes",
    ("engines/xtts/model.py", "CHAR_LIMITS"): "XTTS-v2 language -> character limit",
    ("engines/qwen3/voices.py", "LANGUAGES"): "language code -> Qwen3-TTS's name",
    ("engines/qwen3/voices.py", "SPEAKERS"): "speaker -> gender, age, language, timbre",
    ("engines/remote/indextts_emotions.py", "APPLIES"): "emo_* parameter -> its methods",
}
"""(module relative to ``src/polyvox``, name) -> what the table holds."""


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(SOURCE).as_posix()


def _assignments(path: Path) -> Iterator[tuple[tuple[str, str], ast.stmt]]:
    """(module, name) and the statement of each module-level assignment to a name."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                yield (_name(path), target.id), node


def _table_lines(path: Path) -> set[int]:
    """The lines of the module-level assignments that ``TABLES`` allows to skip."""
    lines: set[int] = set()
    for key, node in _assignments(path):
        if key in TABLES and node.end_lineno is not None:
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def _skip_comments(path: Path) -> list[int]:
    """Lines with a ``# fmt: skip`` comment (comments only: not strings that mention it)."""
    with path.open("rb") as source:
        return [
            token.start[0]
            for token in tokenize.tokenize(source.readline)
            if token.type == tokenize.COMMENT and SKIP in token.string
        ]


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        _name(path): count
        for path in _modules()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split by responsibility): {long}"


def test_no_function_is_over_the_line_limit() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                count = node.end_lineno - node.lineno + 1
                if count > MAX_FUNCTION_LINES:
                    long.append(f"{_name(path)}:{node.lineno} {node.name} ({count} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_fmt_skip_only_keeps_data_tables_laid_out() -> None:
    stray = []
    for path in _modules():
        lines = _skip_comments(path)
        if lines:
            allowed = _table_lines(path)
            stray += [f"{_name(path)}:{line}" for line in lines if line not in allowed]
    assert not stray, f"'# {SKIP}' outside the data tables of TABLES: {stray}"


def test_every_allowed_table_is_still_there() -> None:
    """An entry of ``TABLES`` whose table is gone (moved, renamed, formatted) is dropped from
    the list, not kept as a licence to skip whatever takes its name."""
    found = set()
    for path in _modules():
        skipped = set(_skip_comments(path))
        found |= {key for key, node in _assignments(path) if node.end_lineno in skipped}
    missing = set(TABLES) - found
    assert not missing, f"tables listed in TABLES but not found with '# {SKIP}': {missing}"
