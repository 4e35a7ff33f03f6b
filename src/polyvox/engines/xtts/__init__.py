"""Engine family: XTTS-v2 (coqui-tts), in its own environment."""
