"""The replaced services' environment variables, so a deployment's environment carries over.

Each fills in a polyvox setting that no polyvox source set (a ``POLYVOX_*`` variable, the
env file, the config file, an argument): polyvox's own settings win.

| variable | service | polyvox setting |
|---|---|---|
| ``GCS_BUCKET_NAME`` | XTTS worker | ``storage.output_url = gs://BUCKET`` |
| ``TTS_REMOTE_URL`` | lean proxy | ``url`` of each ``indextts-vllm`` model without one |
| ``MODEL_PATH``, ``MODEL_NAME`` | Qwen-TTS | ``checkpoint`` of the ``compat.qwen_model`` |
| ``DEVICE`` | Qwen-TTS | ``device`` of the ``compat.qwen_model`` |
| ``USE_FLASH_ATTENTION`` | Qwen-TTS | ``flash_attention`` of the ``compat.qwen_model`` |
| ``MAX_CONCURRENT_REQUESTS`` | Qwen-TTS | ``slots`` of the ``compat.qwen_model`` |

Uploads go under ``worker.upload_prefix`` (``generated``, as the seed's did). With
``TTS_REMOTE_URL``, ``compat.proxy_model`` (unless set) becomes the one ``indextts-vllm``
model it filled in. The Qwen variables apply when ``compat.qwen_model`` is a ``qwen3``
model; the checkpoint is ``MODEL_PATH/MODEL_NAME`` (the seed's layout; ``MODEL_NAME``
defaults to its ``Qwen3-TTS-12Hz-1.7B-CustomVoice``). README's drop-in section has the
whole table.

``SAMPLING_RATE`` (Qwen-TTS) has no setting to go to: the Qwen routes answer at the model's
rate (24 kHz for Qwen3-TTS, the seed's default). ``GITHUB_REPO_URL`` (the XTTS worker's code
pulled at start) has no meaning here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvox.settings import ModelConfig, Settings

QWEN_MODEL_NAME = "Qwen3-TTS-12Hz-1.7B-CustomVoice"
"""The Qwen-TTS service's ``MODEL_NAME`` default: its checkpoint's folder in ``MODEL_PATH``."""
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def apply(settings: Settings, environ: Mapping[str, str]) -> None:
    """Fill ``settings`` in from the seeds' variables in ``environ`` (see the module table);
    a value that cannot mean anything raises ValueError naming the variable."""
    found = {key: value.strip() for key, value in environ.items() if value.strip()}
    _bucket(settings, found.get("GCS_BUCKET_NAME"))
    _remote(settings, found.get("TTS_REMOTE_URL"))
    _qwen(settings, found)


def _bucket(settings: Settings, bucket: str | None) -> None:
    if bucket is None or "output_url" in settings.storage.model_fields_set:
        return
    if not _BUCKET.match(bucket):
        raise ValueError(f"GCS_BUCKET_NAME={bucket!r} is not a bucket name")
    settings.storage = settings.storage.model_copy(update={"output_url": f"gs://{bucket}"})


def _remote(settings: Settings, url: str | None) -> None:
    if url is None:
        return
    filled = [
        name
        for name, config in settings.models.items()
        if config.engine == "indextts-vllm" and "url" not in config.options()
    ]
    settings.models = {
        name: _with(config, url=url) if name in filled else config
        for name, config in settings.models.items()
    }
    if len(filled) == 1 and "proxy_model" not in settings.compat.model_fields_set:
        settings.compat = settings.compat.model_copy(update={"proxy_model": filled[0]})


def _qwen(settings: Settings, found: Mapping[str, str]) -> None:
    name = settings.compat.qwen_model
    config = settings.models.get(name)
    if config is None or config.engine != "qwen3":
        return
    own = config.options()
    updates: dict[str, Any] = {}
    if "MODEL_PATH" in found and "checkpoint" not in own:
        folder = found.get("MODEL_NAME", QWEN_MODEL_NAME)
        updates["checkpoint"] = str(PurePosixPath(found["MODEL_PATH"]) / folder)
    if "DEVICE" in found and "device" not in own:
        if found["DEVICE"] not in ("cuda", "cpu"):
            raise ValueError(f"DEVICE={found['DEVICE']!r}: cuda or cpu")
        updates["device"] = found["DEVICE"]
    if "USE_FLASH_ATTENTION" in found and "flash_attention" not in own:
        flag = _FLAGS.get(found["USE_FLASH_ATTENTION"].lower())
        if flag is None:
            raise ValueError(f"USE_FLASH_ATTENTION={found['USE_FLASH_ATTENTION']!r}: 1 or 0")
        updates["flash_attention"] = flag
    if "MAX_CONCURRENT_REQUESTS" in found and config.slots is None:
        updates["slots"] = _count(found["MAX_CONCURRENT_REQUESTS"])
    if updates:
        settings.models = {**settings.models, name: _with(config, **updates)}


def _count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise ValueError(f"MAX_CONCURRENT_REQUESTS={value!r}: a whole number from 1 to 64")
    return int(value)


def _with(config: ModelConfig, **updates: Any) -> ModelConfig:
    """A copy of a model's configuration with more keys (validated as the config's were)."""
    return type(config).model_validate({**config.model_dump(exclude_unset=True), **updates})
