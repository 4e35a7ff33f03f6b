"""The ``chatterbox`` family: Chatterbox English and multilingual, in its own environment
(it pins numpy<2 and torch)."""

from polyvox.engines.family import Family

FAMILY = Family(
    "chatterbox",
    engines={"chatterbox": "polyvox.engines.chatterbox.engine:ChatterboxEngine"},
    extra="chatterbox",
    packages=("chatterbox-tts", "torch", "transformers", "numpy"),
    overrides=(
        "gradio; python_version < '3'",  # the demo UI: a pinned dependency, never imported
        "soundfile<0.14",  # 0.14.0 comes without libsndfile on this index
    ),
    cpu_overrides=(
        "torch==2.13.0+cpu",  # chatterbox pins 2.6.0 (a CUDA build on PyPI); see TORCH_INDEX
        "torchaudio==2.11.1",  # the last on PyPI; only its pure-Python parts are used
    ),
    prune=("torchaudio/lib/*.so",),  # CUDA-linked; torchaudio falls back to pure Python
    torch=True,
    image="docker/Dockerfile.chatterbox",
    fetch="polyvox.engines.chatterbox.model:fetch",
)
