"""Chatterbox inside a sentence: speech tokens as T3 samples them, audio in windows.

``speech_tokens`` is ``T3.inference`` of chatterbox-tts 0.1.7 (the same embeddings, CFG,
alignment checks and logits processors, step for step) as a generator, so tokens can be
turned into audio while later ones are still being sampled. ``Windows`` decodes them with
S3Gen in windows, as ``chatterbox-streaming`` does: each window re-decodes some tokens
before it for context and keeps only the audio after them. Where that project fades each
window in from silence, the region a window shares with the previous one is overlap-added
(a raised-cosine crossfade between the two renderings of the same samples), so no join is
heard. A window that is not the last is rendered in S3Gen's own streaming mode
(``finalize=False``): its last three tokens, whose audio depends on the three after them
(the flow's lookahead), are left out until the next window knows their successors, rather
than rendered against silence and thrown away.

``speech_tokens`` and ``s3gen_render`` run inside the ``chatterbox`` engine environment
(torch); ``Windows`` is numpy alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLES_PER_TOKEN = 960
"""S3Gen: 25 speech tokens per second of 24 kHz audio."""
VALID_TOKENS = 6561
"""Speech token ids at or above this are special (start, stop, padding): never decoded."""
LOOKAHEAD_TOKENS = 3
"""S3Gen's flow looks three tokens ahead (``pre_lookahead_len``)."""
ALIGNMENT_LAYER = 9
"""The attention layer T3's multilingual alignment checks read (as the library's)."""

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sampling:
    """T3's sampling parameters for one call."""

    temperature: float = 0.8
    cfg_weight: float = 0.5
    repetition_penalty: float = 1.2
    min_p: float = 0.05
    top_p: float = 1.0
    max_new_tokens: int = 1000


def speech_tokens(t3: Any, cond: Any, text_tokens: Any, sampling: Sampling) -> Iterator[int]:
    """Speech tokens one at a time until T3 stops or ``max_new_tokens``; ``text_tokens``
    are (2, n) with start and stop tokens (the second row is CFG's unconditional one)."""
    import torch

    hp = t3.hp
    start = hp.start_speech_token * torch.ones_like(text_tokens[:, :1])
    embeds, len_cond = t3.prepare_input_embeds(
        t3_cond=cond,
        text_tokens=text_tokens,
        speech_tokens=start,
        cfg_weight=sampling.cfg_weight,
    )
    backend, analyzer = _backend(t3, (len_cond, len_cond + text_tokens.size(-1)))
    pick = _picker(sampling)
    bos = torch.tensor([[hp.start_speech_token]], dtype=torch.long, device=embeds.device)
    bos_embed = t3.speech_emb(bos) + t3.speech_pos_emb.get_fixed_embedding(0)
    inputs = torch.cat([embeds, torch.cat([bos_embed, bos_embed])], dim=1)
    generated = bos.clone()
    attentions = analyzer is not None
    output = backend(
        inputs_embeds=inputs,
        past_key_values=None,
        use_cache=True,
        output_attentions=attentions,
        output_hidden_states=True,
        return_dict=True,
    )
    for step in range(sampling.max_new_tokens):
        logits = output.logits[:, -1, :]
        cond_logits, uncond_logits = logits[0:1, :], logits[1:2, :]
        logits = cond_logits + sampling.cfg_weight * (cond_logits - uncond_logits)
        if analyzer is not None:
            logits = analyzer.step(logits, next_token=int(generated[0, -1]))
        token = pick(generated, logits)
        generated = torch.cat([generated, token], dim=1)
        value = int(token)
        if value == hp.stop_speech_token:
            return
        if value < VALID_TOKENS:
            yield value
        embed = t3.speech_emb(token) + t3.speech_pos_emb.get_fixed_embedding(step + 1)
        output = backend(
            inputs_embeds=torch.cat([embed, embed]),
            past_key_values=output.past_key_values,
            output_attentions=attentions,
            output_hidden_states=True,
            return_dict=True,
        )


def _backend(t3: Any, text_slice: tuple[int, int]) -> tuple[Any, Any]:
    """T3's HuggingFace backend, with the multilingual alignment checks where the model has
    the layer they read (tiny T3s do not)."""
    from chatterbox.models.t3.inference.alignment_stream_analyzer import (
        AlignmentStreamAnalyzer,
    )
    from chatterbox.models.t3.inference.t3_hf_backend import T3HuggingfaceBackend

    analyzer = None
    if t3.hp.is_multilingual and len(t3.tfmr.layers) > ALIGNMENT_LAYER:
        analyzer = AlignmentStreamAnalyzer(
            t3.tfmr,
            None,
            text_tokens_slice=text_slice,
            alignment_layer_idx=ALIGNMENT_LAYER,
            eos_idx=t3.hp.stop_speech_token,
        )
    backend = T3HuggingfaceBackend(
        config=t3.cfg,
        llama=t3.tfmr,
        speech_enc=t3.speech_emb,
        speech_head=t3.speech_head,
        alignment_stream_analyzer=analyzer,
    )
    return backend, analyzer


def _picker(sampling: Sampling) -> Callable[[Any, Any], Any]:
    """(tokens so far, guided logits) -> the next token: repetition penalty, temperature,
    min-p, top-p, then a draw, in the library's order."""
    import torch
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        RepetitionPenaltyLogitsProcessor,
        TopPLogitsWarper,
    )

    repetition = RepetitionPenaltyLogitsProcessor(penalty=float(sampling.repetition_penalty))
    warpers = (MinPLogitsWarper(min_p=sampling.min_p), TopPLogitsWarper(top_p=sampling.top_p))

    def pick(generated: Any, logits: Any) -> Any:
        logits = repetition(generated, logits)
        if sampling.temperature != 1.0:
            logits = logits / sampling.temperature
        for warper in warpers:
            logits = warper(generated, logits)
        return torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)

    return pick


Render = Callable[[list[int], bool], Audio]
"""(tokens, final) -> their audio from the first token on; not final: without the audio of
the last ``LOOKAHEAD_TOKENS`` (they wait for their lookahead)."""


def s3gen_render(s3gen: Any, ref: dict[str, Any]) -> Render:
    """S3Gen's ``inference`` (flow, HiFi-GAN, the fade-in at the start); not final: its
    flow in streaming mode (``flow_mels``). The flow's and HiFi-GAN's noise come from a fork of
    torch's generator, so a seed samples the same speech tokens with windows or without."""
    import torch

    ref = {  # on the model's device and in its dtype, as the library casts it
        key: torch.as_tensor(value).to(device=s3gen.device, dtype=s3gen.dtype)
        if isinstance(value, np.ndarray | torch.Tensor)
        else value
        for key, value in ref.items()
    }

    cuda = [s3gen.device] if s3gen.device.type == "cuda" else []

    def render(tokens: list[int], final: bool) -> Audio:
        batch = torch.tensor([tokens], dtype=torch.long, device=s3gen.device)
        # the noise comes from a fork: T3's draws go on as if this were not here
        with torch.inference_mode(), torch.random.fork_rng(devices=cuda):
            if final:
                mels = s3gen.flow_inference(batch, ref_dict=ref, finalize=True)
            else:
                mels = flow_mels(s3gen, batch, ref, final=False)
            wav, _ = s3gen.hift_inference(mels.to(dtype=s3gen.dtype), None)
            wav[:, : len(s3gen.trim_fade)] *= s3gen.trim_fade
        audio: Audio = wav.squeeze(0).cpu().numpy().astype(np.float32)
        return audio

    return render


def flow_mels(s3gen: Any, tokens: Any, ref: dict[str, Any], *, final: bool) -> Any:
    """``CausalMaskedDiffWithXvec.inference`` of chatterbox-tts 0.1.7 for one utterance.
    Not final: the encoder reads every token, the decoder renders all but the last
    ``LOOKAHEAD_TOKENS``. The library's own ``finalize=False`` leaves the decoder's mask at
    the full length, which fails on a shape check; here the mask is the frames rendered."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own spelling

    flow = s3gen.flow
    embedding = F.normalize(torch.atleast_2d(ref["embedding"]), dim=1)
    embedding = flow.spk_embed_affine_layer(embedding)
    token = torch.cat([ref["prompt_token"].long(), tokens], dim=1)
    length = torch.tensor([token.size(1)], device=token.device)
    h, _ = flow.encoder(flow.input_embedding(token), length)
    if not final:
        h = h[:, : -flow.pre_lookahead_len * flow.token_mel_ratio]
    h = flow.encoder_proj(h)
    prompt = ref["prompt_feat"]
    conds = torch.zeros([1, h.size(1), flow.output_size], dtype=h.dtype, device=h.device)
    conds[:, : prompt.size(1)] = prompt
    mask = torch.ones(1, 1, h.size(1), dtype=h.dtype, device=h.device)
    mels, _ = flow.decoder(
        mu=h.transpose(1, 2).contiguous(),
        mask=mask,
        spks=embedding,
        cond=conds.transpose(1, 2),
        n_timesteps=10,
    )
    return mels[:, :, prompt.size(1) :]


class Windows:
    """Speech tokens in, audio out: each ``decode`` renders the tokens so far (after some
    context) and returns the audio that is now final, crossfaded into the last window's.
    A window's last ``crossfade`` tokens of audio are held back: the next window renders
    them again, with more context, and fades from the old rendering into the new."""

    def __init__(self, render: Render, *, context: int, crossfade: int) -> None:
        self._render = render
        self._context = context
        self._hold = crossfade * SAMPLES_PER_TOKEN
        self._emitted = 0
        """Samples of this utterance returned so far (from its first token)."""
        self._tail: Audio = np.zeros(0, np.float32)
        """The previous window's rendering of the samples after ``_emitted``."""

    def decode(self, tokens: list[int], *, final: bool) -> Audio:
        first = max(0, self._emitted // SAMPLES_PER_TOKEN - self._context)
        if not final and len(tokens) - first <= LOOKAHEAD_TOKENS:
            return np.zeros(0, np.float32)  # nothing it could render yet
        audio = self._render(tokens[first:], final)
        offset = first * SAMPLES_PER_TOKEN  # where this window's audio starts
        end = offset + len(audio) if final else offset + len(audio) - self._hold
        if end <= self._emitted:
            return np.zeros(0, np.float32)
        piece: Audio = audio[self._emitted - offset : end - offset].copy()
        fade = min(len(self._tail), len(piece))
        if fade:
            rise = (1 - np.cos(np.linspace(0, np.pi, fade, dtype=np.float32))) / 2
            piece[:fade] = self._tail[:fade] * (1 - rise) + piece[:fade] * rise
        self._tail = audio[end - offset :]
        self._emitted = end
        return piece
