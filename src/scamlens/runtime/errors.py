"""The project's one exception type, defined here because the runtime may import nothing above it.

`ScamlensError` marks a problem the user can fix (bad config, corpus, file or model folder) and is
raised on purpose with a message naming what is wrong; the CLI prints it as one line. Its
subclasses also derive from the built-in type that describes them, so `except ValueError` keeps
working for callers that used it.
"""

from __future__ import annotations


class ScamlensError(Exception):
    """A problem with the user's input, explained in the message."""


class InputError(ScamlensError, ValueError):
    """A value, file or argument that scamlens cannot use."""


class MissingError(ScamlensError, FileNotFoundError):
    """A file or folder the user named does not exist or is not what it should be."""


class IntegrityError(ScamlensError, RuntimeError):
    """A model file is missing, changed or truncated since the manifest was written."""
