"""Subcommands of the `quarantine` CLI, one module each; each exposes `register(subparsers)`."""
