"""Engine family: Piper and faster-whisper, the engines the server itself installs."""
