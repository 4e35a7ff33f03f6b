"""Text normalisation and splitting."""

from __future__ import annotations

from polyvox import text


def chunks(t: str, **kw: int) -> list[str]:
    return [c.text for c in text.split(t, **kw)]


def test_first_chunk_ends_at_a_clause_then_whole_sentences() -> None:
    t = (
        "When the morning train finally arrived at the station, everyone cheered loudly. "
        "Then they boarded. It left."
    )
    got = list(text.split(t, first_max_words=8))
    # never inside a clause: the first clause is longer than 8 words, and whole
    assert got[0].text == "When the morning train finally arrived at the station,"
    assert got[1].text == "everyone cheered loudly."
    assert not got[0].ends_sentence
    assert " ".join(c.text for c in got) == t
    assert [c.text for c in got[-2:]] == ["Then they boarded.", "It left."]
    assert all(c.ends_sentence for c in got[1:])


def test_first_phrase_prefers_a_clause_boundary() -> None:
    t = "Oh well, that was a very long and winding road we travelled today."
    assert chunks(t, first_max_words=6)[:2] == [
        "Oh well,",
        "that was a very long and winding road we travelled today.",
    ]


def test_short_first_sentence_is_kept_whole() -> None:
    assert chunks("Hello there. How are you today?") == ["Hello there.", "How are you today?"]


def test_abbreviations_do_not_end_sentences() -> None:
    t = "Dr. Smith met Mr. J. R. Jones at 5 p.m. on Main St. today. Then No. 5 left."
    assert chunks(t, first_max_words=50) == [
        "Dr. Smith met Mr. J. R. Jones at 5 p.m. on Main St. today.",
        "Then No. 5 left.",
    ]


def test_newlines_end_sentences_and_whitespace_collapses() -> None:
    t = "A title\n\n  First   line of text.\nSecond line"
    assert chunks(t) == ["A title", "First line of text.", "Second line"]


def test_long_sentences_split_at_clauses_then_words() -> None:
    sentence = ", ".join(f"clause number {i} goes here" for i in range(30)) + "."
    pieces = chunks("Hi. " + sentence, max_chars=100)
    assert pieces[0] == "Hi."
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces[1:]) == sentence
    no_spaces = "x" * 250
    assert chunks("Hi. " + no_spaces, max_chars=100)[1:] == ["x" * 100, "x" * 100, "x" * 50]


def test_unspeakable_text_yields_nothing() -> None:
    assert chunks("") == []
    assert chunks("  ... !! -- ") == []
    assert text.has_speakable_text("٣")  # digits in any script count


def test_control_characters_are_removed() -> None:
    assert text.normalize("he\x00llo\x1b world\u200b") == "hello world"


def test_a_sentence_without_clauses_is_spoken_whole() -> None:
    t = "the quick brown fox jumps over the lazy dog near the old barn"  # 13 words, no commas
    assert chunks(t, first_max_words=8) == [t]


def test_text_fed_in_pieces_gives_the_same_chunks() -> None:
    t = (
        "Well, when the morning train finally arrived at the station, everyone cheered. "
        "Dr. Smith waved.\nThen they boarded the train, which left at noon. It was late!"
    )
    whole = text.split(t, max_chars=60, first_max_words=6)
    for size in (1, 3, 7, 50):
        splitter = text.Splitter(max_chars=60, first_max_words=6)
        fed = [c for i in range(0, len(t), size) for c in splitter.feed(t[i : i + size])]
        assert fed + splitter.flush() == whole, size


def test_a_sentence_comes_out_as_soon_as_it_is_complete() -> None:
    splitter = text.Splitter()
    assert splitter.feed("Hello there") == []
    assert splitter.feed(".") == []  # could still be "there.com"
    assert [c.text for c in splitter.feed(" How")] == ["Hello there."]
    assert [c.text for c in splitter.feed(" are you?\n")] == ["How are you?"]
    assert splitter.flush() == []


def test_the_first_phrase_goes_out_before_its_sentence_ends() -> None:
    splitter = text.Splitter(first_max_words=8)
    assert splitter.feed("Right then, so this is what we") == []  # the rest is still short
    assert splitter.feed(" are going to do") == []  # 11 words could still be one sentence
    assert splitter.feed(" now") == [text.TextChunk("Right then,", ends_sentence=False)]
    assert [c.text for c in splitter.feed(" today. Next")] == [
        "so this is what we are going to do now today."
    ]
