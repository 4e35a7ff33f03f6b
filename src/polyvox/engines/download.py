"""``python -m polyvox.engines.download FAMILY [REPO]``: fetch a family's real checkpoints
into the Hugging Face cache, inside its environment (what the GPU images do at build time)."""

from __future__ import annotations

import argparse
import importlib

from polyvox.engines.families import FAMILIES


def main(argv: list[str] | None = None) -> int:
    fetching = [name for name, found in FAMILIES.items() if found.fetch]
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("family", choices=fetching)
    parser.add_argument("repo", nargs="?", help="a hub repository (default: the family's own)")
    args = parser.parse_args(argv)
    target = FAMILIES[args.family].fetch
    assert target is not None  # the choices are the families that declare one
    module, _, function = target.partition(":")
    for path in getattr(importlib.import_module(module), function)(args.repo):
        print(f"downloaded {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
