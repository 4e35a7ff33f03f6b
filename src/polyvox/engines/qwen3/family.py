"""The ``qwen-tts`` family: Qwen3-TTS (CustomVoice, VoiceDesign, Base), in its own
environment (qwen-tts pins transformers and accelerate)."""

from polyvox.engines.family import Family

FAMILY = Family(
    "qwen-tts",
    engines={"qwen3": "polyvox.engines.qwen3.engine:Qwen3Engine"},
    extra="qwen-tts",
    packages=("qwen-tts", "torch", "transformers", "numpy"),
    overrides=(
        "gradio; python_version < '3'",  # qwen-tts's demo UI: never imported
        "soundfile<0.14",  # 0.14.0 comes without libsndfile on this index
    ),
    cpu_overrides=("torch==2.13.0+cpu", "torchaudio==2.11.1"),
    prune=("torchaudio/lib/*.so",),
    torch=True,
    image="docker/Dockerfile.qwen",
    fetch="polyvox.engines.qwen3.model:fetch",
)
