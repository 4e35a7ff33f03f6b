"""Chatterbox's windows (``engines.chatterbox_stream.Windows``): which tokens each window
renders, which audio it keeps, and how its join is crossfaded. The renderer here is a
stand-in for S3Gen (each token one known segment of audio); S3Gen itself runs in
tests/integration/test_chatterbox.py."""

from __future__ import annotations

import numpy as np

from polyvox.engines.chatterbox.stream import LOOKAHEAD_TOKENS, SAMPLES_PER_TOKEN, Windows

TOKEN = SAMPLES_PER_TOKEN


def segment(token: int) -> np.ndarray:
    return np.random.default_rng(token).uniform(-1, 1, TOKEN).astype(np.float32)


class Renderer:
    """Each token's audio is its own segment, plus ``shift`` (a rendering that disagrees
    with the last one); not final: the last three tokens wait for their lookahead."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], bool]] = []
        self.shift = 0.0

    def __call__(self, tokens: list[int], final: bool) -> np.ndarray:
        self.calls.append((list(tokens), final))
        kept = tokens if final else tokens[:-LOOKAHEAD_TOKENS]
        return np.concatenate([segment(t) for t in kept] or [np.zeros(0)]) + self.shift


def stream(windows: Windows, tokens: list[int], sizes: list[int]) -> list[np.ndarray]:
    pieces = [windows.decode(tokens[:size], final=False) for size in sizes]
    return [*pieces, windows.decode(tokens, final=True)]


def test_the_windows_add_up_to_the_whole_rendering_sample_for_sample() -> None:
    tokens = list(range(100, 190))
    render = Renderer()
    pieces = stream(Windows(render, context=25, crossfade=2), tokens, [10, 20, 40, 80])
    whole = Renderer()(tokens, True)
    assert len(np.concatenate(pieces)) == len(whole)  # nothing lost, nothing twice
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-6)
    # the first window renders 10 tokens in streaming mode and keeps 10 - 3 - 2 of them
    assert render.calls[0] == (tokens[:10], False)
    assert len(pieces[0]) == 5 * TOKEN
    # later windows start `context` tokens before what was already given
    assert render.calls[3][0] == tokens[35 - 25 : 80]
    assert render.calls[-1] == (tokens[75 - 25 :], True)


def test_a_join_fades_from_the_last_rendering_into_the_new_one() -> None:
    tokens = [7] * 40  # every token the same segment: only the shift differs
    render = Renderer()
    windows = Windows(render, context=25, crossfade=2)
    first = windows.decode(tokens[:10], final=False)
    render.shift = 0.5
    second = windows.decode(tokens[:20], final=False)
    expected = np.concatenate([segment(7)] * 15)[5 * TOKEN :]
    fade = 2 * TOKEN
    assert len(first) == 5 * TOKEN
    assert len(second) == 10 * TOKEN
    assert abs(second[0] - expected[0]) < 1e-3  # starts on the old rendering
    assert np.allclose(second[fade:], expected[fade:] + 0.5)  # then the new one alone
    steps = np.diff(second[:fade] - expected[:fade])
    assert np.all(steps >= 0)  # a smooth rise, no jump
    assert steps.max() < 2 * 0.5 / fade


def test_a_window_too_short_to_render_waits() -> None:
    render = Renderer()
    windows = Windows(render, context=25, crossfade=2)
    assert len(windows.decode([1, 2, 3], final=False)) == 0
    assert render.calls == []
    assert len(windows.decode([1, 2, 3, 4, 5], final=False)) == 0  # all of it crossfade
    last = windows.decode([1, 2, 3, 4, 5], final=True)
    assert np.array_equal(last, Renderer()([1, 2, 3, 4, 5], True))
