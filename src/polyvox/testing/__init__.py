"""For tests and trials: tiny random checkpoints written through the libraries' own classes, and
synthetic reference voices. Not imported by the server."""
