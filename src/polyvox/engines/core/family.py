"""The ``core`` family: the engines the server itself installs (for trying placement)."""

from polyvox.engines.family import Family

FAMILY = Family(
    "core",
    engines={
        "piper": "polyvox.engines.core.piper:PiperEngine",
        "whisper": "polyvox.engines.core.whisper:WhisperEngine",
    },
    extra="whisper",
    packages=("piper-tts", "faster-whisper"),
    extras={"piper": "piper"},
)
