"""Engine family: Kokoro-82M through kokoro-onnx."""
