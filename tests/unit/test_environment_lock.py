"""An engine environment is rebuilt exactly when what it is built from changes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from polyvox.placement import environments


def built(env_dir: Path, name: str, lock: str) -> Path:
    """An environment's directory as ``install`` leaves it (a manifest and ``polyvox``)."""
    env = env_dir / name
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "polyvox").write_text("#!/bin/sh\n")
    manifest = {"family": name, "lock": lock}
    (env / environments.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return env


def test_the_lock_decides_whether_an_environment_is_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = environments.lock("kokoro")
    assert current == environments.lock("kokoro")  # the same inputs, the same lock
    assert current != environments.lock("kokoro", device="cuda")
    env = built(tmp_path, "kokoro", current)
    assert environments.up_to_date("kokoro", tmp_path)
    assert environments.install("kokoro", tmp_path) == env  # left alone: nothing ran

    changed = dataclasses.replace(environments.FAMILIES["kokoro"], overrides=("numpy<3",))
    monkeypatch.setitem(environments.FAMILIES, "kokoro", changed)
    assert not environments.up_to_date("kokoro", tmp_path)  # a pin changed: rebuild
    monkeypatch.undo()
    monkeypatch.setenv("POLYVOX_TORCH_INDEX", "https://example.invalid/whl")
    assert not environments.up_to_date("kokoro", tmp_path)  # so did where torch comes from
    monkeypatch.undo()

    environments._forget_lock(env)  # what an install does first: a half-done one rebuilds
    assert not environments.up_to_date("kokoro", tmp_path)
    (env / "bin" / "polyvox").unlink()
    assert not environments.up_to_date("kokoro", tmp_path)
