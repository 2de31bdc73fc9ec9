"""The one exception type scamlens raises on purpose: `ScamlensError` and its subclasses.

It lives in `scamlens.runtime.errors` because the runtime (what a wheel ships) imports nothing above
itself; this module is where the rest of the package and users import it from. The CLI prints a
`ScamlensError` as one line; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from .runtime.errors import InputError, IntegrityError, MissingError, ScamlensError

__all__ = ["InputError", "IntegrityError", "MissingError", "ScamlensError"]
