"""Facts about a parsed model file that several checks share: import aliases, bound names, classes.

Everything here reads the syntax tree only; nothing imports or runs the candidate.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class ModuleFacts:
    """One pass over a module's syntax tree, computed once per validation."""

    tree: ast.Module
    nodes: list[ast.AST]  # every node, in ast.walk order
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> dotted module path
    bound_names: set[str] = field(default_factory=set)  # every name the file assigns, imports or defines
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)  # module-level classes
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    # `getattr(x, "name")` with a literal name, rewritten as the `x.name` it is (not in `nodes`).
    literal_getattrs: list[ast.Attribute] = field(default_factory=list)

    def resolve(self, node: ast.AST) -> str | None:
        """Return the dotted path of `nn.LSTM`-style expressions whose root is an imported name."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        attribute = self.as_attribute(node)
        return self.resolve(attribute) if attribute is not None else None

    def as_attribute(self, node: ast.AST) -> ast.Attribute | None:
        """`getattr(x, "name")` or `getattr(x, "name", default)` as the attribute `x.name`, else None."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
            return None
        if "getattr" in self.bound_names or len(node.args) not in (2, 3) or node.keywords:
            return None
        name = string_constant(node.args[1])
        if name is None or not name.isidentifier():
            return None
        return ast.copy_location(ast.Attribute(value=node.args[0], attr=name, ctx=ast.Load()), node)


def collect_facts(tree: ast.Module) -> ModuleFacts:
    nodes = list(ast.walk(tree))
    facts = ModuleFacts(tree=tree, nodes=nodes)
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef):
            facts.classes[statement.name] = statement
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.functions[statement.name] = statement
        elif _is_class_alias(statement, facts.classes):
            # `Net = Model`: the harness builds whatever `module.Net` is, so the alias counts.
            facts.classes[statement.targets[0].id] = facts.classes[statement.value.id]  # type: ignore[attr-defined]

    for node in nodes:
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.asname:
                    facts.aliases[name.asname] = name.name
                else:
                    root = name.name.split(".")[0]
                    facts.aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for name in node.names:
                if name.name != "*":
                    facts.aliases[name.asname or name.name] = f"{node.module}.{name.name}"
        _collect_bound(node, facts.bound_names)
    for node in nodes:
        attribute = facts.as_attribute(node)
        if attribute is not None:
            facts.literal_getattrs.append(attribute)
    return facts


def _is_class_alias(statement: ast.stmt, classes: dict[str, ast.ClassDef]) -> bool:
    """True for a module-level `Name = OtherClass`, where OtherClass is a class defined above."""
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Name)
        and statement.value.id in classes
    )


def _collect_bound(node: ast.AST, bound: set[str]) -> None:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        bound.add(node.id)
    elif isinstance(node, ast.arg):
        bound.add(node.arg)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        bound.add(node.name)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    elif isinstance(node, ast.ExceptHandler) and node.name:
        bound.add(node.name)


def own_body_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """Return the nodes of a function body, leaving out nested functions, lambdas and classes."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def class_methods(facts: ModuleFacts, name: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Return the methods of a module-level class, including those it inherits from classes of the same file."""
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for cls in reversed(local_mro(facts, name)):
        for statement in cls.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                methods[statement.name] = statement
    return methods


def local_mro(facts: ModuleFacts, name: str) -> list[ast.ClassDef]:
    """Return the class and its bases defined in the same file, depth first, each once."""
    order: list[ast.ClassDef] = []
    pending = [name]
    while pending:
        current = facts.classes.get(pending.pop(0))
        if current is None or current in order:
            continue
        order.append(current)
        pending.extend(base.id for base in current.bases if isinstance(base, ast.Name))
    return order


def string_constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
