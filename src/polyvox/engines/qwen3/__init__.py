"""Engine family: Qwen3-TTS (qwen-tts), in its own environment."""
