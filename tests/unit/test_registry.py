"""The engine registry: lazy imports and install hints."""

from __future__ import annotations

import pytest

from polyvox.engines import registry
from polyvox.errors import EngineUnavailable, ModelNotFound


def test_unknown_engine_is_model_not_found() -> None:
    with pytest.raises(ModelNotFound, match="piper"):
        registry.load_class("nonexistent")


def test_missing_library_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "ghost", ("polyvox_missing_module:Engine", "ghost"))
    with pytest.raises(EngineUnavailable) as info:
        registry.load_class("ghost")
    assert "pip install 'polyvox[ghost]'" in info.value.message
    assert info.value.status_code == 503


def test_importing_polyvox_imports_no_engine_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, polyvox, polyvox.api, polyvox.cli; "
        "heavy = {'piper', 'onnxruntime', 'faster_whisper', 'torch', 'ctranslate2'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
