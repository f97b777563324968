"""Command lines and container ids as event sources write them, turned into ECS values."""

from __future__ import annotations

import shlex

# Kubernetes writes container ids as `<runtime>://<id>`; ECS `container.id` is the bare id.
_RUNTIME_SEPARATOR = "://"


def split_command_line(text: str) -> list[str]:
    """Split a command line as a POSIX shell would (quotes and backslashes honoured).

    A line a shell could not parse (an unbalanced quote) is still a real command someone ran,
    possibly on purpose to dodge detection, so it falls back to splitting on whitespace rather
    than losing the event.
    """
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def split_container_id(raw: str) -> tuple[str | None, str]:
    """`"containerd://abc"` -> `("containerd", "abc")`; an id without a prefix has no runtime."""
    runtime, separator, bare = raw.partition(_RUNTIME_SEPARATOR)
    if not separator:
        return None, raw
    return runtime or None, bare


def strip_runtime_prefix(raw: str) -> str:
    """The container id without its `<runtime>://` prefix."""
    return split_container_id(raw)[1]


def basename(path: str) -> str:
    """The last component of a slash-separated path (the process name of an executable)."""
    return path.rsplit("/", 1)[-1]
