"""Quarantine: Kubernetes detection and response with Elastic EQL rules."""

__version__ = "0.1.0"
