"""Engine family: Chatterbox (Resemble AI), in its own environment."""
