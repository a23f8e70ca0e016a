"""The mutants of a module: small, plausible wrong versions of its rules, code and data alike.

Function bodies get the usual operators (comparisons, ``and``/``or``, ``not``, ``is``, ``in``,
``+``/``-``, integers by one, booleans, code and parameter names, a dropped ``raise``, a returned
``None``, a negated ``if``). Module-level values get table mutants as well, because this library's
rules are data (``TRANSITIONS``, the profiles, the sets of unreported fields): a member dropped
from a tuple, set or table, a member added to a set, a status swapped for the next one.

Each mutant replaces one span of the source text, so its diff is one small hunk and the rest of
the file, comments and layout included, is untouched. Its id hashes the file, the enclosing scope
and the change, not the line, so an edit elsewhere in the file keeps every other id (and its
cached result and its classification) stable.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

#: The statuses, in the lifecycle's order; a swap moves one to the next (the last to the first).
STATUSES = (
    "REQUIRES_PAYMENT_METHOD",
    "REQUIRES_CONFIRMATION",
    "REQUIRES_ACTION",
    "PROCESSING",
    "REQUIRES_CAPTURE",
    "SUCCEEDED",
    "CANCELED",
)

#: Strings worth changing: names such as codes, parameters, statuses, verbs and types. Prose
#: (anything with a space) is a message, and a changed message is not a changed rule.
_NAME_LIKE = re.compile(r"[a-z][a-z0-9_.\[\]]*")

_FLIPPED_COMPARISON: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_FLIPPED_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
}


@dataclass(frozen=True)
class Mutant:
    """One wrong version of ``path``: ``replacement`` in place of the bytes ``start:end``."""

    id: str
    path: str
    line: int
    scope: str
    operator: str
    original: str
    replacement: str
    start: int
    end: int

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement.encode() + source[self.end :]

    def diff(self, source: bytes) -> str:
        before = source.decode().splitlines(keepends=True)
        after = self.apply(source).decode().splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, self.path, f"{self.path} (mutant)", n=1))

    @property
    def description(self) -> str:
        return f"{self.operator}: {_one_line(self.original)} -> {_one_line(self.replacement)}"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


def mutants_of(path: Path, root: Path) -> list[Mutant]:
    """Every mutant of the module at ``path``, named by its path relative to ``root``."""
    source = path.read_bytes()
    finder = _Finder(source)
    finder.visit(ast.parse(source))
    relative = path.relative_to(root).as_posix()
    seen: Counter[tuple[str, str, str, str]] = Counter()
    found = []
    for scope, operator, start, end, replacement, line in finder.changes:
        original = source[start:end].decode()
        key = (scope, operator, original, replacement)
        seen[key] += 1
        digest = hashlib.sha1(repr((relative, *key, seen[key])).encode()).hexdigest()[:10]
        found.append(
            Mutant(digest, relative, line, scope, operator, original, replacement, start, end)
        )
    return found


class _Finder(ast.NodeVisitor):
    """Walks a module and records each change as (scope, operator, start, end, replacement)."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.line_starts = [0]
        for line in source.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.scopes: list[str] = []
        self.in_function = 0
        self.changes: list[tuple[str, str, int, int, str, int]] = []

    # -- where we are --------------------------------------------------------------------------

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = self.line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end].decode()

    def record(self, node: ast.AST, operator: str, replacement: str) -> None:
        start, end = self.span(node)
        self.record_span(start, end, operator, replacement, node.lineno)  # type: ignore[attr-defined]

    def record_span(self, start: int, end: int, operator: str, replacement: str, line: int) -> None:
        scope = ".".join(self.scopes) or "<module>"
        self.changes.append((scope, operator, start, end, replacement, line))

    # -- what is left alone --------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        pass

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        pass

    def visit_Assert(self, node: ast.Assert) -> None:
        # Asserts narrow types for mypy and restate invariants; a broken one only fails louder.
        pass

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        # An f-string is a message; what it interpolates is computed elsewhere.
        pass

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_arguments(self, node: ast.arguments) -> None:
        for default in [*node.defaults, *node.kw_defaults]:
            if default is not None:
                self.visit(default)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if any(isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list):
            return
        self.scopes.append(node.name)
        self.in_function += 1
        self.visit(node.args)
        for statement in node.body:
            self.visit(statement)
        self.in_function -= 1
        self.scopes.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scopes.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    def visit_Subscript(self, node: ast.Subscript) -> None:
        # ``Literal[...]`` lists allowed values (data); other subscripts in type aliases are types.
        if isinstance(node.value, ast.Name) and node.value.id == "Literal":
            self.members(node.slice, node.slice)
            return
        if isinstance(node.value, ast.Name) and node.value.id == "Annotated":
            assert isinstance(node.slice, ast.Tuple)
            for constraint in node.slice.elts[1:]:  # the first is the type
                self.visit(constraint)
            return
        if isinstance(node.value, ast.Name) and node.value.id in {"tuple", "dict"}:
            return
        self.generic_visit(node)

    # -- code ----------------------------------------------------------------------------------

    def visit_Compare(self, node: ast.Compare) -> None:
        for index, op in enumerate(node.ops):
            flipped = _FLIPPED_COMPARISON.get(type(op))
            if flipped is not None:
                ops = list(node.ops)
                ops[index] = flipped()
                mutated = ast.Compare(node.left, ops, node.comparators)
                self.record(node, "comparison", f"({ast.unparse(mutated)})")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self.record(node, "and/or", f"({ast.unparse(ast.BoolOp(other, node.values))})")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self.record(node, "not removed", f"({self.text(node.operand)})")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        flipped = _FLIPPED_ARITHMETIC.get(type(node.op))
        if flipped is not None and not _is_text(node.left) and not _is_text(node.right):
            mutated = ast.BinOp(node.left, flipped(), node.right)
            self.record(node, "arithmetic", f"({ast.unparse(mutated)})")
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        self.record(node.test, "if negated", f"not ({self.text(node.test)})")
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        self.record(node, "raise removed", "pass")
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            self.record(node, "return None", "return None")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.record(node, "boolean", repr(not value))
        elif isinstance(value, int):
            self.record(node, "integer", repr(value + 1))
            self.record(node, "integer", repr(value - 1))
        elif isinstance(value, str) and _NAME_LIKE.fullmatch(value):
            self.record(node, "name", repr(value + "_x"))

    # -- data ----------------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in STATUSES and isinstance(node.value, ast.Name):
            self.record(node, "status swapped", f"{node.value.id}.{_next_status(node.attr)}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in STATUSES and isinstance(node.ctx, ast.Load) and not self.in_function:
            self.record(node, "status swapped", _next_status(node.id))

    def visit_Tuple(self, node: ast.Tuple) -> None:
        if not self.in_function:
            self.members(node, node)
            present = [_status_name(e) for e in node.elts]
            missing = [s for s in STATUSES if s not in present]
            if node.elts and missing and all(present):
                last = node.elts[-1]
                prefix = f"{last.value.id}." if isinstance(last, ast.Attribute) else ""  # type: ignore[attr-defined]
                _, end = self.span(last)
                self.record_span(end, end, "member added", f", {prefix}{missing[0]}", last.lineno)
        self.generic_visit(node)

    def visit_List(self, node: ast.List) -> None:
        if not self.in_function:
            self.members(node, node)
        self.generic_visit(node)

    def visit_Set(self, node: ast.Set) -> None:
        if not self.in_function:
            self.members(node, node)
            if all(_is_text(e) for e in node.elts):
                last = node.elts[-1]
                _, end = self.span(last)
                self.record_span(end, end, "member added", ', "added_x"', last.lineno)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if not self.in_function and len(node.keys) > 1 and None not in node.keys:
            for index in range(len(node.keys)):
                key = node.keys[index]
                assert key is not None
                start = self.span(key)[0]
                if index + 1 < len(node.keys):
                    end = self.span(node.keys[index + 1])[0]  # type: ignore[arg-type]
                else:
                    start = self.span(node.values[index - 1])[1]
                    end = self.span(node.values[index])[1]
                self.record_span(start, end, "member dropped", "", key.lineno)
        self.generic_visit(node)

    def members(self, node: ast.AST, container: ast.AST) -> None:
        """A mutant per member dropped from a tuple, list or set written in the source."""
        elements = getattr(container, "elts", None)
        if elements is None or any(isinstance(e, ast.Starred) for e in elements):
            return
        if len(elements) == 1:
            if isinstance(container, ast.Tuple):
                self.record(container, "member dropped", "()")
            return
        for index, element in enumerate(elements):
            if index + 1 < len(elements):
                start, end = self.span(element)[0], self.span(elements[index + 1])[0]
            else:
                start, end = self.span(elements[index - 1])[1], self.span(element)[1]
            self.record_span(start, end, "member dropped", "", element.lineno)


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _status_name(node: ast.AST) -> str | None:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name if name in STATUSES else None


def _next_status(name: str) -> str:
    return STATUSES[(STATUSES.index(name) + 1) % len(STATUSES)]
