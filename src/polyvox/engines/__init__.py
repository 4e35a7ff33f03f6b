"""Engine plug-ins: the Protocols, the lazy registry and the model pool."""
