"""``python -m polyvox.testing FAMILY DIR``: write a tiny random checkpoint of an engine
family, inside that family's environment (what the tests do, and a quick trial of a build
without real weights)."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from polyvox.engines.qwen3.model import TYPES

WRITERS = ("chatterbox", "xtts", "qwen3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a tiny random checkpoint.")
    parser.add_argument("family", choices=WRITERS)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--multilingual", action="store_true", help="chatterbox: multilingual")
    parser.add_argument("--type", choices=TYPES, default="custom_voice", help="qwen3: its type")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    writer = importlib.import_module(f"polyvox.testing.{args.family}")
    if args.family == "chatterbox":
        writer.write_tiny(args.directory, args.multilingual)
    elif args.family == "qwen3":
        writer.write_tiny(args.directory, args.type)
    else:
        writer.write_tiny(args.directory)
    print(f"wrote {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
