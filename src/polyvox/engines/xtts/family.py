"""The ``xtts`` family: XTTS-v2 (coqui-tts, the idiap fork), in its own environment."""

from polyvox.engines.family import Family

FAMILY = Family(
    "xtts",
    engines={"xtts": "polyvox.engines.xtts.engine:XttsEngine"},
    extra="xtts",
    packages=("coqui-tts", "torch", "transformers", "numpy"),
    overrides=("soundfile<0.14",),  # 0.14.0 comes without libsndfile on this index
    cpu_overrides=("torch==2.13.0+cpu", "torchaudio==2.11.1"),
    prune=("torchaudio/lib/*.so",),
    torch=True,
    image="docker/Dockerfile.xtts",
    fetch="polyvox.engines.xtts.model:fetch",
)
