"""Serverless workers (RunPod) that run polyvox jobs."""
