"""The Net API that every candidate model file follows, as data.

Token ids follow the LEMUR convention so that LEMUR's captioning models run
unchanged: <PAD>=0, <SOS>=1, <EOS>=2, <UNK>=3.

The prompt text for the LLM generator (`rules_text`), the static validator
(`nncaption.codegen.validate`) and the behavioural checks of the trial all read
the rules, the import policy and the signatures from this module. Every rule id in
`RULES` has a check in the validator, and a test proves the two sets agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from nncaption.status import Status

PAD_ID = 0
SOS_ID = 1
EOS_ID = 2
UNK_ID = 3
SPECIAL_TOKENS: tuple[str, ...] = ("<PAD>", "<SOS>", "<EOS>", "<UNK>")

# Parameters of one candidate, counted over `Net(...).parameters()`. 50 M keeps a
# ResNet-50-sized encoder with an LSTM or Transformer decoder inside the search space
# while refusing models whose weights and Adam state alone approach a gigabyte.
DEFAULT_PARAM_BUDGET: int = 50_000_000

NET_CLASS = "Net"
HYPERPARAMETER_FUNCTION = "supported_hyperparameters"
REQUIRED_HYPERPARAMETER = "lr"
PRM_PARAMETER = "prm"


@dataclass(frozen=True)
class MethodSpec:
    """One method of `Net` that the harness calls, with the positional-argument counts it uses."""

    name: str
    params: tuple[str, ...]  # the LEMUR parameter names, `self` excluded
    call_arities: tuple[int, ...]  # the numbers of positional arguments the harness passes

    def signature(self) -> str:
        return f"{self.name}(self, {', '.join(self.params)})"


NET_METHODS: tuple[MethodSpec, ...] = (
    MethodSpec("__init__", ("in_shape", "out_shape", "prm", "device"), (4,)),
    MethodSpec("train_setup", ("prm",), (1,)),
    MethodSpec("learn", ("train_data",), (1,)),
    MethodSpec("forward", ("images", "captions=None", "hidden_state=None"), (1, 2)),
)
NET_BASES: frozenset[str] = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})

# Import policy: the first component of every imported module must be on this list.
ALLOWED_IMPORT_ROOTS: frozenset[str] = frozenset(
    {
        "__future__",
        "torch",
        "torchvision",  # layers only: pretrained weights are rejected
        "math",
        "typing",
        "collections",
        "functools",
        "itertools",
        "dataclasses",
        "copy",
        "numbers",
        "enum",
        "warnings",
        "numpy",
    }
)
# Submodules of allowed packages that download, load or compile code, or start processes.
BANNED_SUBMODULES: frozenset[str] = frozenset(
    {
        "torch.hub",
        "torch.utils.model_zoo",
        "torch.utils.cpp_extension",
        "torch.multiprocessing",
        "torch.distributed",
        "torch.package",
        "torch.serialization",  # pickle-based load and save, and the os, io and pickle modules it imports
        "torch.onnx",  # exports write files
        "torch.export",
        "torch.utils.tensorboard",
        "torch.utils.collect_env",  # runs shell commands
        "torch._dynamo",  # the machinery behind torch.compile
        "torch._inductor",
        "numpy.ctypeslib",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.lib.npyio",
        "numpy.lib.format",  # open_memmap and the .npy reader and writer
        "numpy.testing",
        "torchvision.io",
        "torchvision.datasets",
    }
)
# Builtins that run code, read files or reach the interpreter's internals.
BANNED_BUILTINS: frozenset[str] = frozenset(
    {"exec", "eval", "compile", "__import__", "open", "input", "breakpoint", "globals", "locals", "vars", "exit", "quit"}
)
# Functions of allowed packages that read or write files or load foreign code.
BANNED_CALLS: frozenset[str] = frozenset(
    {
        "torch.load",
        "torch.save",
        "torch.serialization.load",
        "torch.serialization.save",
        "torch.jit.load",
        "torch.jit.save",
        "torch.ops.load_library",
        "torch.classes.load_library",
        "torch.from_file",
        "torch.compile",  # starts compiler processes
        "numpy.load",
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.loadtxt",
        "numpy.savetxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "numpy.memmap",
        "numpy.fromregex",
        "numpy.rec.fromfile",
        "numpy.lib.format.open_memmap",
    }
)
# Methods that read or write files or shared memory, whatever object they are called on:
# `ndarray.tofile` and `ndarray.dump`, `UntypedStorage.from_file`, `ScriptModule.save`.
# A method reached through `self` is the model's own and is not checked.
BANNED_METHODS: frozenset[str] = frozenset(
    {
        "tofile", "dump", "from_file", "open_memmap", "save", "share_memory_",
        "_share_filename_cpu_", "_new_shared_filename_cpu", "_share_fd_cpu_", "_new_shared_fd_cpu",
        "export_chrome_trace", "export_stacks", "export_memory_timeline",
    }
)
# Modules that no candidate may name, imported or reached through another module.
BANNED_MODULE_NAMES: frozenset[str] = frozenset(
    {
        "os", "sys", "subprocess", "socket", "ctypes", "shutil", "pathlib", "importlib",
        "builtins", "urllib", "urllib3", "http", "requests", "httpx", "ftplib", "smtplib",
        "telnetlib", "socketserver", "ssl", "asyncio", "pickle", "marshal", "shelve",
        "multiprocessing", "threading", "tempfile", "glob", "pty", "mmap", "resource",
        # Reachable as attributes of torch and numpy modules, e.g. torch.inspect, torch.cuda.graphs.gc.
        "io", "codecs", "tarfile", "zipfile", "gzip", "bz2", "lzma", "gc", "inspect",
        "logging", "linecache", "runpy", "zipimport", "posix", "fcntl", "sqlite3", "webbrowser", "pdb",
    }
)
# Attributes that lead from any object to globals, builtins or arbitrary classes.
DUNDER_ESCAPES: frozenset[str] = frozenset(
    {
        "__globals__", "__subclasses__", "__builtins__", "__code__", "__bases__", "__base__",
        "__mro__", "__closure__", "__loader__", "__spec__", "__import__", "__getattribute__",
        "__dict__",  # a module's namespace: torch.__dict__["os"] or ["__builtins__"]
        "__self__",  # a builtin function's module: len.__self__ is builtins
        "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame", "cr_frame", "tb_frame",
    }
)
# Banned submodules whose use is reported as `pretrained-weights` rather than `banned-call`.
WEIGHT_DOWNLOAD_MODULES: frozenset[str] = frozenset({"torch.hub", "torch.utils.model_zoo"})
# Calls that fetch pretrained weights. torchvision `weights=` and `*_Weights` enums count too.
PRETRAINED_CALLS: frozenset[str] = frozenset(
    {
        "load_state_dict_from_url",
        "load_url",
        "get_weight",
        "get_model_weights",
        "download_url_to_file",
    }
)

# Values the `check` command passes for the declared hyperparameters. A name missing here gets
# the fallback, a value inside the (0, 1) range of learning rates, momenta and dropout rates.
DEFAULT_HYPERPARAMETERS: dict[str, float] = {"lr": 0.01, "momentum": 0.9, "dropout": 0.1}
FALLBACK_HYPERPARAMETER = 0.5


@dataclass(frozen=True)
class Rule:
    """One checkable rule of the Net API or the policy."""

    id: str
    severity: str  # 'error' or 'warning'
    status: Status | None  # the candidate status an error of this rule gives
    group: str
    text: str  # the sentence the LLM reads in its prompt
    hint: str  # how to fix a violation, for the repair prompt


def _rule(id: str, group: str, text: str, hint: str, status: Status | None = Status.CONTRACT_VIOLATION) -> Rule:
    severity = "warning" if status is None else "error"
    return Rule(id, severity, status, group, text, hint)


_SOURCE, _HP, _NET, _POLICY, _TORCH, _WARN = (
    "source", "hyperparameters", "net", "policy", "torch", "warnings",
)
_SYNTAX, _POL = Status.SYNTAX_ERROR, Status.POLICY_VIOLATION

RULES: tuple[Rule, ...] = (
    _rule("empty-file", _SOURCE, "The file must not be empty.", "Write the complete model file.", _SYNTAX),
    _rule("not-utf8", _SOURCE, "The file must be valid UTF-8.", "Remove or replace the non-UTF-8 bytes.", _SYNTAX),
    _rule("syntax-error", _SOURCE, "The file must be valid Python 3.", "Fix the syntax at the reported position.", _SYNTAX),
    _rule("hp-function-missing", _HP,
          f"Define a module-level function `{HYPERPARAMETER_FUNCTION}()` that takes no arguments.",
          f"Add `def {HYPERPARAMETER_FUNCTION}():\n    return {{'lr', 'momentum'}}` at module level."),
    _rule("hp-return-invalid", _HP,
          f"`{HYPERPARAMETER_FUNCTION}()` returns a set literal of string literals, e.g. {{'lr', 'momentum'}}.",
          "Return a literal set of the hyperparameter names as strings."),
    _rule("hp-lr-missing", _HP, f"The returned set includes '{REQUIRED_HYPERPARAMETER}'.",
          f"Add '{REQUIRED_HYPERPARAMETER}' to the returned set and read it in train_setup."),
    _rule("hp-key-undeclared", _HP,
          f"Every key read from `{PRM_PARAMETER}` (`{PRM_PARAMETER}['x']` or `{PRM_PARAMETER}.get('x')`) is declared "
          f"in `{HYPERPARAMETER_FUNCTION}()`.",
          f"Declare the key in {HYPERPARAMETER_FUNCTION}() or stop reading it."),
    _rule("hp-key-unused", _HP, f"Every declared hyperparameter is read from `{PRM_PARAMETER}` somewhere.",
          "Read the key from prm or remove it from the returned set."),
    _rule("net-missing", _NET, f"Define a module-level `class {NET_CLASS}(nn.Module)`.",
          f"Name the model class {NET_CLASS}, or add `{NET_CLASS} = YourClass` below the class."),
    _rule("net-base", _NET, f"`{NET_CLASS}` subclasses `torch.nn.Module` (written `nn.Module` or `torch.nn.Module`).",
          f"Write `class {NET_CLASS}(nn.Module):`."),
    _rule("method-missing", _NET,
          f"`{NET_CLASS}` defines " + ", ".join(f"`{m.signature()}`" for m in NET_METHODS) + ".",
          "Add the missing method with the exact signature."),
    _rule("method-signature", _NET,
          "Each of these methods accepts exactly the arguments the harness passes: "
          "Net(in_shape, out_shape, prm, device), train_setup(prm), learn(train_data), "
          "forward(images) and forward(images, captions); it is a plain `def`.",
          "Give the method the parameters of the expected signature in the message."),
    _rule("learn-generator", _NET, "`learn` runs the whole epoch and is not a generator (no `yield`).",
          "Replace `yield` with a plain loop that steps the optimizer."),
    _rule("super-init-missing", _NET, "`__init__` calls `super().__init__()` before creating layers.",
          "Call `super().__init__()` as the first statement of __init__."),
    _rule("import-not-allowed", _POLICY,
          "Import only: " + ", ".join(sorted(ALLOWED_IMPORT_ROOTS - {"__future__"}))
          + " (no " + ", ".join(sorted(BANNED_SUBMODULES)) + ").",
          "Remove the import; build the layer from torch.nn instead.", _POL),
    _rule("pretrained-weights", _POLICY,
          "Do not load pretrained weights: no `weights=` enums, no `pretrained=True`, no hub or URL loads.",
          "Build the layers with random initialisation (weights=None).", _POL),
    _rule("banned-call", _POLICY,
          "Do not call " + ", ".join(sorted(BANNED_BUILTINS)) + ", nor file or code loaders such as "
          + ", ".join(sorted(BANNED_CALLS)) + ", nor the file and shared-memory methods "
          + ", ".join(f".{name}()" for name in sorted(BANNED_METHODS)) + ".",
          "Remove the call; a model file computes, it never reads files or runs code.", _POL),
    _rule("banned-module", _POLICY,
          "Do not name " + ", ".join(sorted(BANNED_MODULE_NAMES)) + ", not even as an attribute of another module.",
          "Remove every use of the module.", _POL),
    _rule("dunder-escape", _POLICY, "Do not use interpreter internals such as " + ", ".join(sorted(DUNDER_ESCAPES)) + ".",
          "Remove the attribute access.", _POL),
    _rule("dunder-getattr", _POLICY,
          "`getattr`, `setattr`, `delattr` and `hasattr` never take a dunder name or a name built from strings.",
          "Access the attribute directly by its name.", _POL),
    _rule("unknown-torch-name", _TORCH,
          "Use only names that exist in the installed torch (e.g. nn.MultiheadAttention, not nn.MultiHeadAttention).",
          "Use the existing name that the message suggests."),
    _rule("hp-key-dynamic", _WARN, f"Read `{PRM_PARAMETER}` with literal string keys.",
          "Write the key as a string literal so it can be checked.", None),
    _rule("dynamic-getattr", _WARN, "Prefer direct attribute access to getattr/setattr with a variable name.",
          "Access the attribute directly, or map names to objects in a dict.", None),
    _rule("in-shape-channels", _WARN, "`in_shape[0]` is the batch size; the channel count is `in_shape[1]`.",
          "Use in_shape[1] for the input channels.", None),
    _rule("out-shape-index", _WARN, "`out_shape` is `(vocab_size,)`: read the vocabulary size as `out_shape[0]`.",
          "Use out_shape[0].", None),
    _rule("cuda-call", _WARN, "Do not call `.cuda()`; move tensors and modules with `.to(self.device)`.",
          "Replace .cuda() with .to(self.device).", None),
    _rule("hardcoded-vocab-size", _WARN, "Take the vocabulary size from `out_shape[0]`, never a number.",
          "Use out_shape[0] for the vocabulary size.", None),
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

_GROUP_TITLES = {
    _SOURCE: "Source",
    _HP: "Hyperparameters",
    _NET: "The Net class",
    _POLICY: "Import and call policy (a file that breaks one of these rules never reaches training)",
    _TORCH: "Torch names",
    _WARN: "Legal but suspicious (warnings)",
}


def rules_text() -> str:
    """Render the Net API and every rule, with its id in brackets, as prompt text for the LLM."""
    lines = [
        "The model file is one Python module that follows the Net API:",
        f"- `class {NET_CLASS}(nn.Module)` is built as `Net(in_shape, out_shape, prm, device)` with",
        "  in_shape = (B, C, H, W) of an image batch, out_shape = (vocab_size,), prm a dict of",
        "  hyperparameters, device a torch.device.",
        "- forward(images, captions): images float32 [B, 3, H, W]; captions int64 [B, T] or [B, N, T]",
        "  (N references, use the first). Teacher forcing on captions[:, :-1] returns logits",
        "  [B, T-1, vocab_size] (a (logits, hidden_state) tuple is accepted). The logits at position t",
        "  may depend only on tokens 0..t (causal).",
        "- forward(images) without captions decodes on its own and returns token ids [B, L]",
        "  (scores [B, L, vocab_size] accepted).",
        "- train_setup(prm) creates the optimizer over self.parameters() and the loss;",
        "  learn(train_data) trains one epoch over an iterable of (images, captions) batches.",
        f"- Token ids: <PAD>={PAD_ID}, <SOS>={SOS_ID}, <EOS>={EOS_ID}, <UNK>={UNK_ID}; ignore <PAD> in the loss.",
        f"- At most {DEFAULT_PARAM_BUDGET:,} parameters unless the run sets another budget.",
        "",
        "Rules (the validator reports a broken rule by the id in brackets):",
    ]
    for group, title in _GROUP_TITLES.items():
        lines.append(f"{title}:")
        lines.extend(f"- [{rule.id}] {rule.text}" for rule in RULES if rule.group == group)
    return "\n".join(lines) + "\n"
