"""What Qwen3-TTS speaks: its languages, and CustomVoice's nine speakers and their dialects
(no torch here: a gateway lists a Qwen3-TTS model's languages and voices without it)."""

LANGUAGES = {
    "zh": "chinese", "en": "english", "ja": "japanese", "ko": "korean", "de": "german",
    "fr": "french", "ru": "russian", "pt": "portuguese", "es": "spanish", "it": "italian",
}  # fmt: skip
"""Language codes clients send -> the names Qwen3-TTS knows (``auto``: it guesses)."""
SPEAKERS = {
    "vivian": ("female", "young", "zh", "bright, slightly edgy young female voice"),
    "serena": ("female", "young", "zh", "warm, gentle young female voice"),
    "uncle_fu": ("male", "senior", "zh", "seasoned male voice with a low, mellow timbre"),
    "dylan": ("male", "young", "zh", "youthful Beijing male voice (Beijing dialect)"),
    "eric": ("male", "adult", "zh", "lively Chengdu male voice (Sichuan dialect)"),
    "ryan": ("male", "adult", "en", "dynamic male voice with strong rhythmic drive"),
    "aiden": ("male", "young", "en", "sunny American male voice with a clear midrange"),
    "ono_anna": ("female", "young", "ja", "playful Japanese female voice"),
    "sohee": ("female", "adult", "ko", "warm Korean female voice with rich emotion"),
}  # fmt: skip
"""CustomVoice's nine speakers: gender, age group, native language, timbre."""
DIALECTS = {"dylan": "beijing_dialect", "eric": "sichuan_dialect"}
