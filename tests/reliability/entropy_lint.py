"""An ``ast`` lint for where walletim's randomness comes from (issue 8; used by
``test_entropy.py``).

Two results per module:

- ``violations``: what must never appear: the ``random`` module (imported in any way, also
  through ``__import__`` / ``importlib``), ``numpy.random``, ``uuid.uuid1`` / ``uuid.uuid4``,
  seeding (``.seed(...)``), and predictable values (the clock, pids, ``id()``) fed to a hash
  or assigned to a name that sounds secret (key, nonce, salt, seed, secret, iv, entropy);
- ``sites``: every place that draws randomness: a reference to an approved CSPRNG API
  (``os.urandom``, ``secrets.*``, libsodium's ``nacl.utils.random``) and every call of an
  injected ``randbytes`` (a parameter or attribute whose default is one of them), keyed by
  (module, enclosing function, API). The test compares them with a reviewed list, so a new
  source of key material or nonces cannot appear unnoticed.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field

APPROVED = {
    "os.urandom",
    "secrets.token_bytes",
    "secrets.token_hex",
    "secrets.token_urlsafe",
    "secrets.randbelow",
    "secrets.randbits",
    "secrets.choice",
    "secrets.SystemRandom",
    "nacl.utils.random",
}
BANNED_MODULES = ("random", "numpy.random")
BANNED_CALLS = {"uuid.uuid1", "uuid.uuid4", "os.getrandom"}
PREDICTABLE = {
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "time.perf_counter",
    "time.perf_counter_ns",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "os.getpid",
    "id",
}
HASHES = {"hashlib", "keccak", "keccak256", "sha256", "sha3_256", "blake2b", "hmac"}
SECRET_WORDS = ("key", "nonce", "salt", "seed", "secret", "iv", "entropy", "mnemonic")
INJECTED = {"randbytes", "_randbytes"}  # how walletim passes randomness in (tests pass their own)
RANDOMNESS_PARAMETERS = INJECTED | {"rng", "entropy_source", "randomness"}


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    sites: Counter[tuple[str, str, str]] = field(default_factory=Counter)


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, report: Report) -> None:
        self.module = module
        self.report = report
        self.aliases: dict[str, str] = {}
        self.scope: list[str] = []

    # -- names --------------------------------------------------------------------------------

    def dotted(self, node: ast.AST) -> str | None:
        """The full dotted name an expression refers to, through import aliases."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def flag(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.report.violations.append(f"{self.module}:{line}: {what}")

    def where(self) -> str:
        return ".".join(self.scope) or "<module>"

    # -- imports --------------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _banned_module(alias.name):
                self.flag(node, f"imports {alias.name}")
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                self.aliases.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}" if base else alias.name
            if _banned_module(base) or _banned_module(full):
                self.flag(node, f"imports {full}")
            self.aliases[alias.asname or alias.name] = full

    # -- scopes -----------------------------------------------------------------------------------

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_defaults(node)
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._check_defaults(node)
        self._scoped(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node)

    def _check_defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """A randomness parameter defaults to an approved CSPRNG (or None, then filled in)."""
        args = node.args
        positional = args.posonlyargs + args.args
        with_default = positional[len(positional) - len(args.defaults) :]
        pairs = list(zip(with_default, args.defaults, strict=True))
        pairs += [
            (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
        ]
        for arg, default in pairs:
            if arg.arg in RANDOMNESS_PARAMETERS:
                name = self.dotted(default)
                is_none = isinstance(default, ast.Constant) and default.value is None
                if not is_none and name not in APPROVED:
                    self.flag(node, f"parameter {arg.arg} defaults to {ast.unparse(default)}")

    # -- references and calls ---------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if name in APPROVED:
            self.report.sites[(self.module, self.where(), name)] += 1
        elif (
            name is not None
            and _root(node) in self.aliases  # an imported module, not a local variable
            and _banned_module(name.rsplit(".", 1)[0])
        ):
            self.flag(node, f"uses {name}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = self.aliases.get(node.id)
        if name in APPROVED and isinstance(node.ctx, ast.Load):
            self.report.sites[(self.module, self.where(), name)] += 1

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        if name in BANNED_CALLS:
            self.flag(node, f"calls {name}")
        if name in ("__import__", "importlib.import_module") and node.args:
            target = node.args[0]
            if isinstance(target, ast.Constant) and _banned_module(str(target.value)):
                self.flag(node, f"imports {target.value} dynamically")
        if isinstance(node.func, ast.Attribute) and node.func.attr == "seed":
            self.flag(node, f"seeds a generator: {ast.unparse(node)[:60]}")
        callee = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if callee in INJECTED:
            self.report.sites[(self.module, self.where(), "randbytes (injected)")] += 1
        hashing = name is not None and bool({name.split(".")[0], name.rsplit(".", 1)[-1]} & HASHES)
        if hashing and self._predictable(node):
            self.flag(node, f"hashes a predictable value: {ast.unparse(node)[:60]}")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            words = re.split(r"[^a-z0-9]+", ast.unparse(target).lower())
            if any(w in SECRET_WORDS for w in words) and self._predictable(node.value):
                self.flag(node, f"a secret-sounding {ast.unparse(target)} from a predictable value")
        self.generic_visit(node)

    def _predictable(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and self.dotted(sub.func) in PREDICTABLE:
                return True
        return False


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _banned_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in BANNED_MODULES)


def lint(source: str, module: str = "<snippet>") -> Report:
    report = Report()
    _Visitor(module, report).visit(ast.parse(source))
    return report
