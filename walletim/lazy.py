"""Package namespaces whose names load on first use (PEP 562).

A package ``__init__`` that re-exports its submodules' names imports all of them whenever any
one is imported (``import walletim.app.defi.assets`` runs ``walletim/app/defi/__init__.py``
first): a command that needs one constant paid for every service in the package. Such a
package keeps its imports for type checkers under ``if TYPE_CHECKING:`` (so mypy and
import-linter see the same names and edges as before) and gives Python::

    _EXPORTS = {"walletim.app.defi.assets": ("ETH", "Asset"), ...}
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __all__ = exported(_EXPORTS)

Its ``TYPE_CHECKING`` imports name each export ``X as X``: that is what tells a type checker
the package re-exports it (``__all__``, computed, is not read by mypy).
tests/e2e/test_import_weight.py checks that every name in ``__all__`` resolves to the object
of the module it names, and that the ``TYPE_CHECKING`` imports give the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a module to the names it
    gives; a name is imported from its module on first access and kept in the package."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__


def exported(exports: Mapping[str, Sequence[str]]) -> list[str]:
    """The names ``exports`` (as given to :func:`lazy_exports`) gives: a package's ``__all__``."""
    return [name for names in exports.values() for name in names]
