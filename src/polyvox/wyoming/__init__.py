"""Wyoming protocol server (Home Assistant's voice pipeline) over the same speech service."""
