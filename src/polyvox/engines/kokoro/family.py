"""The ``kokoro`` family: Kokoro-82M through kokoro-onnx."""

from polyvox.engines.family import Family

FAMILY = Family(
    "kokoro",
    engines={"kokoro": "polyvox.engines.kokoro.engine:KokoroEngine"},
    extra="kokoro",
    packages=("kokoro-onnx", "onnxruntime"),
)
