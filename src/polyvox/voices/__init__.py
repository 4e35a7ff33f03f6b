"""Voices: reference audio for cloning engines (fetch, checks, content-hash cache)."""
