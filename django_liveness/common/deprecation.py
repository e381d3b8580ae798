"""Old module paths that keep working for one release: a module that moved leaves behind a shim
that warns (DeprecationWarning, attributed to the module that imports it) and re-exports the new
module's names."""

import importlib
import warnings


def moved_to(namespace, new, *, warn=True):
    """Fill the shim's ``namespace`` (its ``globals()``) with the names of the module ``new``.

    ``warn=False`` is for a path that must stay for good (a migration imports it) without being
    the one to use."""
    module = importlib.import_module(new)
    if warn:
        warnings.warn(
            f"{namespace['__name__']} is deprecated: import {new} instead (the old path goes in the next release).",
            DeprecationWarning,
            stacklevel=3,  # past this function and the shim's body: the module that imports the shim
        )
    names = {name: value for name, value in vars(module).items() if not name.startswith("__")}
    namespace.update(names)
    namespace["__all__"] = list(getattr(module, "__all__", [name for name in names if not name.startswith("_")]))
