"""Package namespaces whose names load on first use (PEP 562).

A package ``__init__`` that re-exports its submodules' names imports all of them whenever any
one is imported (``import walletim.app.defi.assets`` runs ``walletim/app/defi/__init__.py``
first): a command that needs one constant paid for every service in the package. Such a
package lists its exports once, as imports for type checkers under ``if TYPE_CHECKING:`` (so
mypy and import-linter see the names and edges), each ``from M import X as X`` on its own
line (that is what tells a type checker the package re-exports it), and gives Python::

    _EXPORTS = reexports(__file__)
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __all__ = exported(_EXPORTS)

:func:`reexports` reads those imports from the package's own source: one list, not a second
table to keep in step. tests/e2e/test_import_weight.py checks that every name in ``__all__``
resolves to the object of the module it names, and that it is what the ``TYPE_CHECKING``
block imports (read by Python's own parser).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence

#: A re-export for type checkers: ``from M import X as X`` (wrapped or not by the formatter).
_REEXPORT = re.compile(r"^[ \t]+from ([\w.]+) import \(?\s*(\w+) as \2\b", re.MULTILINE)


def reexports(init_file: str) -> dict[str, tuple[str, ...]]:
    """What the package whose ``__init__`` is ``init_file`` re-exports, by module: its indented
    ``from M import X as X`` lines (its ``if TYPE_CHECKING:`` block), in order."""
    with open(init_file, encoding="utf-8") as f:
        text = f.read()
    exports: dict[str, tuple[str, ...]] = {}
    for module, name in _REEXPORT.findall(text):
        exports[module] = (*exports.get(module, ()), name)
    return exports


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
