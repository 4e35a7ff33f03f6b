"""RunPod worker tests."""
