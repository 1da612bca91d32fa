"""Checks of the Net API: `supported_hyperparameters()`, the `prm` keys and the `Net` class."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from nncaption.codegen.astfacts import (
    ModuleFacts,
    class_methods,
    local_mro,
    own_body_nodes,
    string_constant,
)
from nncaption.codegen.validate import Violation, register, violation
from nncaption.contract import (
    HYPERPARAMETER_FUNCTION,
    NET_BASES,
    NET_CLASS,
    NET_METHODS,
    PRM_PARAMETER,
    REQUIRED_HYPERPARAMETER,
    MethodSpec,
)

FORWARD_SIGNATURE_HINT = "Use the signature from the Net API; give `captions` and `hidden_state` the default None."
_SET_CONSTRUCTORS = {"set", "frozenset", "list", "tuple"}
_PRM_READERS = {"get", "pop", "setdefault"}


@register("hp-function-missing", "hp-return-invalid", "hp-lr-missing", "hp-key-undeclared", "hp-key-unused",
          "hp-key-dynamic")
def check_hyperparameters(facts: ModuleFacts) -> Iterator[Violation]:
    function = facts.functions.get(HYPERPARAMETER_FUNCTION)
    reads, dynamic = _prm_reads(facts)
    yield from (violation("hp-key-dynamic", node, "prm is read with a computed key") for node in dynamic)

    if function is None or not _takes_no_arguments(function):
        found = "takes arguments" if function is not None else "is missing"
        yield violation("hp-function-missing", function,
                        f"module-level function {HYPERPARAMETER_FUNCTION}() {found}", _hp_method_hint(facts, function))
        return

    declared = _declared_keys(function)
    if declared is None:
        returns = [n for n in own_body_nodes(function) if isinstance(n, ast.Return)]
        yield violation("hp-return-invalid", returns[0] if returns else function,
                        f"{HYPERPARAMETER_FUNCTION}() must return a set literal of strings such as {{'lr', 'momentum'}}")
        return

    names = {key for key, _ in declared}
    if REQUIRED_HYPERPARAMETER not in names:
        yield violation("hp-lr-missing", function,
                        f"{HYPERPARAMETER_FUNCTION}() does not declare '{REQUIRED_HYPERPARAMETER}'")
    for key, node in reads:
        if key not in names:
            yield violation("hp-key-undeclared", node,
                            f"prm key '{key}' is read but {HYPERPARAMETER_FUNCTION}() declares only {sorted(names)}")
    # When prm is read with a computed key or handed to another call, any declared key may be read.
    if dynamic or _prm_passed_on(facts):
        return
    read_keys = {key for key, _ in reads}
    for key, node in declared:
        if key not in read_keys:
            yield violation("hp-key-unused", node, f"hyperparameter '{key}' is declared but never read from prm")


def _hp_method_hint(facts: ModuleFacts, function: ast.AST | None) -> str | None:
    """A hint for a module that defines the function only as a method of Net, else None (the rule's own hint)."""
    net = facts.classes.get("Net")
    if function is not None or net is None:
        return None
    if not any(isinstance(n, ast.FunctionDef) and n.name == HYPERPARAMETER_FUNCTION for n in net.body):
        return None
    return (f"Net defines {HYPERPARAMETER_FUNCTION}() as a method, but the API reads it from the module: "
            f"move it out of the class and drop its `self` argument.")


def _takes_no_arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = function.args
    required = len(args.posonlyargs) + len(args.args) - len(args.defaults)
    required_kw = sum(default is None for default in args.kw_defaults)
    return required == 0 and required_kw == 0 and isinstance(function, ast.FunctionDef)


def _declared_keys(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.AST]] | None:
    """Return the (key, node) pairs of every return of the function, or None when one is not a literal."""
    body = own_body_nodes(function)
    returns = [n for n in body if isinstance(n, ast.Return)]
    assigned = {
        n.targets[0].id: n.value
        for n in body
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }
    if not returns:
        return None
    keys: list[tuple[str, ast.AST]] = []
    for ret in returns:
        value = ret.value
        if isinstance(value, ast.Name) and value.id in assigned:
            value = assigned[value.id]  # `params = {...}; return params`
        literal = _string_collection(value)
        if literal is None:
            return None
        keys.extend(literal)
    return keys


def _string_collection(node: ast.AST | None) -> list[tuple[str, ast.AST]] | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SET_CONSTRUCTORS:
        if len(node.args) == 1 and not node.keywords:
            return _string_collection(node.args[0])
        return None
    if not isinstance(node, ast.Set | ast.List | ast.Tuple):
        return None
    keys = [(string_constant(element), element) for element in node.elts]
    if any(key is None for key, _ in keys):
        return None
    return [(key, element) for key, element in keys if key is not None]


def _prm_reads(facts: ModuleFacts) -> tuple[list[tuple[str, ast.AST]], list[ast.AST]]:
    """Find every `prm['k']`, `prm.get('k')` and `self.prm['k']` read; return literal reads and computed ones."""
    names, attributes = _prm_holders(facts)

    reads: list[tuple[str, ast.AST]] = []
    dynamic: list[ast.AST] = []
    for node in facts.nodes:
        key_node: ast.AST | None = None
        if isinstance(node, ast.Subscript) and _is_prm(node.value, names, attributes):
            key_node = node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in _PRM_READERS and _is_prm(node.func.value, names, attributes) and node.args):
            key_node = node.args[0]
        if key_node is None:
            continue
        key = string_constant(key_node)
        if key is None:
            dynamic.append(node)
        else:
            reads.append((key, node))
    return reads, dynamic


def _is_prm(node: ast.AST, names: set[str], attributes: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    return isinstance(node, ast.Attribute) and node.attr in attributes


def _prm_passed_on(facts: ModuleFacts) -> bool:
    """True when the prm dict itself is an argument of a call, e.g. `Decoder(prm)` or `f(**prm)`."""
    names, attributes = _prm_holders(facts)

    for node in facts.nodes:
        if isinstance(node, ast.Call):
            arguments = list(node.args) + [keyword.value for keyword in node.keywords]
            if any(_is_prm(argument, names, attributes) for argument in arguments):
                return True
    return False


def _prm_holders(facts: ModuleFacts) -> tuple[set[str], set[str]]:
    """Return the local names and `self.<attr>` names that refer to the prm dict."""
    names = {PRM_PARAMETER}
    for method in class_methods(facts, NET_CLASS).values():
        positional = [a.arg for a in method.args.posonlyargs + method.args.args]
        if method.name == "__init__" and len(positional) > 3:
            names.add(positional[3])
        elif method.name == "train_setup" and len(positional) > 1:
            names.add(positional[1])
    attributes = {PRM_PARAMETER}
    for node in facts.nodes:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names):
            attributes.update(t.attr for t in node.targets if isinstance(t, ast.Attribute))
    return names, attributes


@register("net-missing", "net-base", "method-missing", "method-signature", "learn-generator", "super-init-missing")
def check_net_class(facts: ModuleFacts) -> Iterator[Violation]:
    net = facts.classes.get(NET_CLASS)
    if net is None:
        nested = [n for n in facts.nodes if isinstance(n, ast.ClassDef) and n.name == NET_CLASS]
        where = " (it is defined, but not at module level)" if nested else ""
        if not nested and any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == NET_CLASS
                                                                  for t in n.targets) for n in facts.tree.body):
            where = f" ({NET_CLASS} is assigned, but not to a class defined above in this file)"
        yield violation("net-missing", nested[0] if nested else None, f"no module-level class {NET_CLASS}{where}")
        return

    if not _is_module_subclass(facts, net):
        yield violation("net-base", net, f"class {NET_CLASS} must subclass nn.Module")

    methods = class_methods(facts, NET_CLASS)
    for spec in NET_METHODS:
        method = methods.get(spec.name)
        if method is None:
            yield violation("method-missing", net, f"class {NET_CLASS} has no method {spec.signature()}")
            continue
        problem = _signature_problem(method, spec)
        if problem:
            hint = FORWARD_SIGNATURE_HINT if spec.name == "forward" else None
            yield violation("method-signature", method, f"{NET_CLASS}.{spec.name}: {problem}; expected {spec.signature()}",
                            hint)

    learn = methods.get("learn")
    if learn is not None:
        for node in own_body_nodes(learn):
            if isinstance(node, ast.Yield | ast.YieldFrom):
                yield violation("learn-generator", node, "learn contains `yield`, so calling it runs no training")
                break

    init = methods.get("__init__")
    if init is not None and not _calls_super_init(init):
        yield violation("super-init-missing", init, f"{NET_CLASS}.__init__ does not call super().__init__()")


def _is_module_subclass(facts: ModuleFacts, net: ast.ClassDef) -> bool:
    for cls in local_mro(facts, net.name):
        for base in cls.bases:
            if facts.resolve(base) in NET_BASES:
                return True
    return False


def _signature_problem(method: ast.FunctionDef | ast.AsyncFunctionDef, spec: MethodSpec) -> str | None:
    if isinstance(method, ast.AsyncFunctionDef):
        return "it is `async def`"
    if any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod") for d in method.decorator_list):
        return "it is a static or class method"
    args = method.args
    positional = len(args.posonlyargs) + len(args.args) - 1  # without self
    if positional < 0 and args.vararg is None:
        return "it takes no `self`"
    required = positional - len(args.defaults)
    for count in spec.call_arities:
        if count < required:
            return f"it requires {_arguments(required)} but the harness passes {count}"
        if count > positional and args.vararg is None:
            return f"it accepts {_arguments(positional)} but the harness passes {count}"
    missing_kw = [a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None]
    if missing_kw:
        return f"keyword-only arguments without defaults: {', '.join(missing_kw)}"
    return None


def _arguments(count: int) -> str:
    return f"{count} positional argument" + ("" if count == 1 else "s")


def _calls_super_init(init: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in own_body_nodes(init):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"):
            continue
        target = node.func.value
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "super":
            return True
        if isinstance(target, ast.Attribute | ast.Name):  # nn.Module.__init__(self) or Base.__init__(self)
            return True
    return False
