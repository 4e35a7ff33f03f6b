"""Deterministic English benchmark texts: a sentence, an 80-word paragraph, a 400-word text."""

from __future__ import annotations

SENTENCE = "The morning train to the coast left the station exactly on time."
"""One sentence of 12 words."""

_SENTENCES = (
    # The first five sentences (80 words) are the paragraph.
    "Every evening, the old keeper climbed the narrow stairs of the lighthouse to light the lamp.",
    "From the top, he could see the fishing boats returning slowly across the grey water.",
    "Some nights were calm and quiet, but others brought storms that shook the windows "
    "of the tower.",
    "He wrote each change of weather in a thick notebook that his grandfather had "
    "started long ago.",
    "The pages were full of careful notes about wind, rain, fog, and the passing ships.",
    # The remaining twenty sentences (320 words) complete the 400-word text.
    "In winter, the sun set early, and the lamp had to burn for more than fourteen hours.",
    "The keeper cleaned the great glass lens every morning, because salt and dust "
    "dimmed its light.",
    "His only companion was a grey cat that slept beside the warm stove in the kitchen.",
    "Once a month, a small supply boat brought flour, coffee, letters, and oil for the lamp.",
    "The captain of that boat liked to stay for lunch and share news from the village.",
    "Children in the village believed that the old keeper knew the name of every star.",
    "In fact, he knew only a few, but he enjoyed the stories they told about him.",
    "One autumn night, a sudden storm caught a small sailing boat far from the safe harbour.",
    "The keeper saw its small red light rising and falling slowly between the enormous waves.",
    "He rang the heavy bell and kept the lamp turning until the first grey light of dawn.",
    "By the next morning, the boat had reached the harbour, and its crew of three was safe.",
    "The sailors walked up the cliff path later that week to thank him in person.",
    "They brought a basket of apples, a bottle of wine, and a new pair of warm gloves.",
    "The keeper wrote about their visit in his notebook, next to the notes on the storm.",
    "Years later, the lighthouse received an electric lamp that needed no one to light it.",
    "The keeper moved to a cottage in the village, but he still walked to the cliff each day.",
    "He liked to watch the bright beam sweep across the water, steady and strong as before.",
    "His notebooks are now kept in the small museum beside the old harbour wall.",
    "Today visitors can read about the storms, the ships, and the cat that slept by the stove.",
    "The lighthouse still shines every night, guiding the fishing boats safely home "
    "across the bay.",
)

PARAGRAPH = " ".join(_SENTENCES[:5])
"""Five sentences, 80 words."""

LONG_TEXT = " ".join(_SENTENCES)
"""Twenty-five sentences, 400 words."""

TEXTS: dict[str, str] = {"sentence": SENTENCE, "paragraph": PARAGRAPH, "400 words": LONG_TEXT}
"""The benchmark texts by label, shortest first."""


def words(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())
