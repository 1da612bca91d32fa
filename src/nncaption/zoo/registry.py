"""Registry of zoo model files: classification backbones and baseline captioners.

Every entry is one self-contained Python file. The built-in files live in
`nncaption/zoo/files/backbones/` and `nncaption/zoo/files/captioners/`; users add
folders of their own files (for instance a LEMUR `ab/nn/nn` checkout) through
`extra_dirs`. What a file is comes from reading its syntax tree: a file whose
`Net.forward` has a `captions` parameter (or two parameters after `self`) is a
captioner, any other file with a `Net` or a `Features` class is a backbone. Only backbones that define `Features(in_channels, width)` and
`DEFAULT_WIDTH` can serve as composer encoders (`ZooEntry.has_features`).

Parameter counts and feature dimensions come from building the model once on the
CPU (a "probe") and are cached per file path, modification time and size.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from nncaption.errors import UsageError

log = logging.getLogger(__name__)

FILES_DIR = Path(__file__).resolve().parent / "files"
KINDS = ("backbone", "captioner")
BUILTIN_ORIGIN = "builtin"

# Shapes the probe builds models with: a 32×32 RGB batch, 10 classes for
# classification nets and a 500-word vocabulary for captioners.
PROBE_IMAGE_SIZE = 32
PROBE_NUM_CLASSES = 10
PROBE_VOCAB_SIZE = 500
# Hyperparameter values the probe passes; keys a file declares beyond these get 0.5.
PROBE_PRM: dict[str, float] = {"lr": 0.001, "momentum": 0.9, "dropout": 0.2}


@dataclass(frozen=True)
class ZooEntry:
    """One model file of the zoo, with what its source and a CPU probe show."""

    name: str
    path: Path
    kind: str  # 'backbone' or 'captioner'
    family: str
    origin: str  # 'builtin' or the user folder the file was found in
    description: str
    default_width: int | None
    stride: int | None  # total stride of Features, from the STRIDE constant
    has_features: bool  # defines Features(in_channels, width) and DEFAULT_WIDTH
    params: int | None = None  # see probe_entry for which model is counted
    feature_channels: int | None = None
    feature_grid: tuple[int, int] | None = None  # (h, w) for a 32×32 input
    probe_error: str | None = None

    @property
    def feature_dims(self) -> tuple[int, int, int] | None:
        """Features output shape (channels, h, w) for one 32×32 image, when probed."""
        if self.feature_channels is None or self.feature_grid is None:
            return None
        return (self.feature_channels, *self.feature_grid)

    @property
    def can_encode(self) -> bool:
        """Whether the composer and `encoder_source` accept this entry as an encoder."""
        return self.kind == "backbone" and self.has_features

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


# --- reading a file's syntax tree -------------------------------------------------


def _int_constant(tree: ast.Module, name: str) -> int | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            value = node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            return int(value.value)
    return None


def _str_constant(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return None


def _top_level_class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    return None


def _forward_takes_captions(net: ast.ClassDef) -> bool:
    for node in net.body:
        if isinstance(node, ast.FunctionDef) and node.name == "forward":
            names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            return "captions" in names or len(names) >= 3
    return False


def classify_source(tree: ast.Module) -> str | None:
    """Return 'captioner', 'backbone', or None for a file that defines no model."""
    net = _top_level_class(tree, "Net")
    if net is not None and _forward_takes_captions(net):
        return "captioner"
    if net is not None or _top_level_class(tree, "Features") is not None:
        return "backbone"
    return None


def _family_from_name(stem: str) -> str:
    # 'ResNet18' -> 'resnet', 'mobilenet_v2' -> 'mobilenet_v2', 'VGG16_bn' -> 'vgg16_bn'
    return re.sub(r"\d+$", "", stem.lower()).rstrip("_-") or stem.lower()


def read_entry(path: Path, origin: str, kind: str | None = None) -> ZooEntry | None:
    """Build the static part of an entry from a file, or None when it defines no model.

    Raises UsageError when the file cannot be read or is not valid Python.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read zoo file {path}: {exc}; fix or remove the file") from exc
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise UsageError(
            f"zoo file {path} is not valid Python (line {exc.lineno}: {exc.msg}); fix or remove the file"
        ) from exc

    detected = classify_source(tree)
    if detected is None:
        return None
    docstring = ast.get_docstring(tree) or ""
    default_width = _int_constant(tree, "DEFAULT_WIDTH")
    has_features = _top_level_class(tree, "Features") is not None and default_width is not None
    return ZooEntry(
        name=path.stem,
        path=path,
        kind=kind or detected,
        family=_str_constant(tree, "FAMILY") or _family_from_name(path.stem),
        origin=origin,
        description=docstring.strip().splitlines()[0] if docstring.strip() else "",
        default_width=default_width,
        stride=_int_constant(tree, "STRIDE"),
        has_features=has_features,
    )


# --- loading and listing ------------------------------------------------------------


def load_module(path: Path) -> ModuleType:
    """Execute a model file as a fresh module (not added to sys.modules) and return it."""
    module_name = f"nncaption_zoo_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load zoo file {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _builtin_entries() -> list[ZooEntry]:
    entries = []
    for kind, folder in (("backbone", "backbones"), ("captioner", "captioners")):
        for path in sorted((FILES_DIR / folder).glob("*.py")):
            if path.name.startswith("_"):
                continue
            entry = read_entry(path, BUILTIN_ORIGIN, kind)
            if entry is None:
                raise UsageError(f"built-in zoo file {path} defines neither Net nor Features")
            entries.append(entry)
    return entries


def _folder_entries(folder: Path) -> list[ZooEntry]:
    """Read the entries of one user folder, skipping with a warning the files that fail to parse."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise UsageError(f"zoo folder {folder} does not exist or is not a directory; check the path")
    entries = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            entry = read_entry(path.resolve(), str(folder))
        except UsageError as exc:
            log.warning("skipping zoo file: %s", exc)
            continue
        if entry is not None:
            entries.append(entry)
    return entries


def list_entries(
    kind: str | None = None,
    extra_dirs: Sequence[Path | str] = (),
    *,
    probe: bool = True,
) -> list[ZooEntry]:
    """List the built-in entries, then those of each folder in `extra_dirs`, in order.

    `kind` keeps only 'backbone' or 'captioner' entries. With `probe`, each entry's
    parameter count and feature dimensions are filled in (see `probe_entry`). A name
    found twice raises UsageError, because names are how prompts and runs refer to files.

    NOTE: probing builds every model in the listed folders, which can be slow for a folder
    of full-size networks. Pass probe=False when only names, kinds and paths are needed.
    """
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown zoo kind {kind!r}; expected one of {', '.join(KINDS)} or none")

    entries = _builtin_entries()
    for folder in extra_dirs:
        entries.extend(_folder_entries(Path(folder)))

    seen: dict[str, ZooEntry] = {}
    for entry in entries:
        if entry.name in seen:
            raise UsageError(
                f"zoo name {entry.name!r} is defined twice: {seen[entry.name].path} and {entry.path}; "
                "rename one of the files or drop its folder from the zoo folders"
            )
        seen[entry.name] = entry

    if kind is not None:
        entries = [e for e in entries if e.kind == kind]
    if probe:
        from nncaption.zoo.probe import probe_entries

        entries = probe_entries(entries)
    return entries


def get_entry(
    name: str,
    extra_dirs: Sequence[Path | str] = (),
    *,
    probe: bool = True,
    encoder: bool = False,
) -> ZooEntry:
    """Return the entry called `name`; raises UsageError listing the known names if absent.

    With `encoder`, that list contains only the entries that can serve as encoders
    (`ZooEntry.can_encode`). An entry that exists is returned either way, so the caller
    can say why it cannot serve.
    """
    entries = list_entries(extra_dirs=extra_dirs, probe=False)
    for entry in entries:
        if entry.name == name:
            if probe:
                from nncaption.zoo.probe import probe_entries

                return probe_entries([entry])[0]
            return entry

    if encoder:
        known = ", ".join(e.name for e in entries if e.can_encode)
        raise UsageError(f"no zoo entry named {name!r}; backbones that can serve as encoders: {known}")
    known = ", ".join(e.name for e in entries)
    raise UsageError(f"no zoo entry named {name!r}; known entries: {known}")
