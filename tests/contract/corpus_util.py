"""Reading the fault corpus: model files whose first line names the violations they must trigger."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.py"))
INVALID = sorted((CORPUS / "invalid").glob("*.py"))
_EXPECT = re.compile(rb"^# expect: (.*)$", re.MULTILINE)
# Files that cannot carry an `# expect:` line.
_NO_HEADER = {"empty_file.py": [("empty-file", 1)]}


def expectations(path: Path) -> list[tuple[str, int]]:
    """Return the (rule, line) pairs that the file's `# expect:` line lists."""
    if path.name in _NO_HEADER:
        return _NO_HEADER[path.name]
    match = _EXPECT.search(path.read_bytes().split(b"\n", 1)[0])
    assert match, f"{path.name} has no '# expect: rule@line' first line"
    pairs = []
    for item in match.group(1).decode().split():
        rule, line = item.split("@")
        pairs.append((rule, int(line)))
    return pairs
