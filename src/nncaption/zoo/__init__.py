"""Model zoo: classification backbones and baseline captioners as self-contained files.

`list_entries` and `get_entry` read the registry, `encoder_source` returns a backbone's
source without its classifier for the composer, `extract_snippet` cuts code for prompts.
"""

from nncaption.zoo.registry import (
    FILES_DIR,
    KINDS,
    PROBE_IMAGE_SIZE,
    ZooEntry,
    get_entry,
    list_entries,
    load_module,
)
from nncaption.zoo.snippets import extract_snippet
from nncaption.zoo.source import encoder_source, strip_classifier

__all__ = [
    "FILES_DIR",
    "KINDS",
    "PROBE_IMAGE_SIZE",
    "ZooEntry",
    "encoder_source",
    "extract_snippet",
    "get_entry",
    "list_entries",
    "load_module",
    "strip_classifier",
]
