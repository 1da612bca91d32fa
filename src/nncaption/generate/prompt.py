"""Prompt building for the LLM generator: templates filled with the rules, data facts and zoo code.

A template is a text file with `{{name}}` placeholders and optional `<<<system>>>` and
`<<<user>>>` section markers that split it into chat messages. The packaged templates live in
`nncaption/generate/templates/`; `generator.template` takes a packaged name or a file path.
A placeholder that the template uses but no prompt provides is a ConfigError, so a typo in a
user template fails before the first request.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate.base import GenerationContext

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_SECTION = re.compile(r"^<<<(system|user)>>>[ \t]*$", re.MULTILINE)

PROMPT_FIELDS = frozenset(
    {
        "rules", "image_size", "vocab_size", "max_len", "references", "param_budget",
        "base_model", "base_model_source", "snippets", "k",
    }
)
REPAIR_FIELDS = frozenset({"rules", "stage", "feedback", "code"})


@dataclass(frozen=True)
class Template:
    name: str  # the packaged name, or the path the user gave
    text: str


@dataclass
class Prompt:
    """A rendered prompt and what went into it."""

    messages: list[dict[str, str]]
    template: str
    base_model: str | None = None
    base_family: str | None = None
    snippets: list[str] = field(default_factory=list)  # zoo names of the backbone snippets, in order
    k: int = 0

    def markdown(self) -> str:
        """Render the messages as one Markdown document, for the candidate's prompt.md."""
        parts = [f"<!-- {m['role']} -->\n{m['content']}" for m in self.messages]
        return "\n\n".join(parts) + "\n"


def load_template(name_or_path: str) -> Template:
    """Read a packaged template by name (e.g. `default`) or a template file by path."""
    path = Path(name_or_path).expanduser()
    if path.suffix or path.parent != Path("."):
        try:
            return Template(str(path), path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read prompt template {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"prompt template {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc

    package = resources.files("nncaption.generate") / "templates"
    resource = package / f"{name_or_path}.md"
    if not resource.is_file():
        known = sorted(p.name.removesuffix(".md") for p in package.iterdir() if p.name.endswith(".md"))
        raise ConfigError(
            f"no packaged prompt template {name_or_path!r}; known: {', '.join(known)}; or pass a file path"
        )
    return Template(name_or_path, resource.read_text(encoding="utf-8"))


def check_placeholders(template: Template, allowed: frozenset[str]) -> None:
    """Raise ConfigError when `template` uses a placeholder outside `allowed`."""
    unknown = sorted(set(_PLACEHOLDER.findall(template.text)) - allowed)
    if unknown:
        raise ConfigError(
            f"prompt template {template.name} uses unknown placeholder(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(allowed))}"
        )


def check_templates(config: GeneratorConfig) -> None:
    """Load both configured templates and check their placeholders, before any request is sent."""
    check_placeholders(load_template(config.template), PROMPT_FIELDS)
    check_placeholders(load_template(config.repair_template), REPAIR_FIELDS)


def render(template: Template, values: dict[str, Any], allowed: frozenset[str]) -> list[dict[str, str]]:
    """Fill the placeholders in one pass (inserted text is not scanned again) and split messages."""
    check_placeholders(template, allowed)
    text = _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template.text)
    return split_messages(text)


def split_messages(text: str) -> list[dict[str, str]]:
    """Split rendered text at `<<<system>>>` / `<<<user>>>` markers; no marker means one user message."""
    markers = list(_SECTION.finditer(text))
    if not markers:
        return [{"role": "user", "content": text.strip() + "\n"}]
    messages = []
    for marker, following in zip(markers, [*markers[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        content = text[marker.end() : end].strip()
        if content:
            messages.append({"role": marker.group(1), "content": content + "\n"})
    return messages


def _rules_text() -> str:
    from nncaption.contract import rules_text

    return rules_text()


def choose_zoo_code(
    config: GeneratorConfig, rng: random.Random, zoo_dirs: tuple[str, ...] = ()
) -> tuple[Any | None, list[Any]]:
    """Pick the base captioner (config or seeded choice) and K backbones of other families."""
    from nncaption.generate.llm.checks import base_captioner
    from nncaption.zoo import list_entries

    if config.base_model:
        base = base_captioner(config.base_model, zoo_dirs)
    else:
        captioners = sorted(list_entries("captioner", zoo_dirs, probe=False), key=lambda e: e.name)
        base = rng.choice(captioners) if captioners else None

    # A captioner's family names its encoder's backbone family, so that backbone is not offered again.
    # NOTE: a captioner file without a FAMILY constant gets its file stem as family, which
    # matches no backbone, so then no backbone is excluded.
    family = base.family if base is not None else None
    backbones = sorted(
        (e for e in list_entries("backbone", zoo_dirs, probe=False) if e.family != family), key=lambda e: e.name
    )
    if config.k < 0:
        raise ConfigError(f"generator.k must be >= 0, got {config.k}")
    chosen = rng.sample(backbones, min(config.k, len(backbones)))
    return base, chosen


def _snippet_section(entries: list[Any], budget_chars: int) -> str:
    from nncaption.zoo import extract_snippet

    parts = []
    for number, entry in enumerate(entries, start=1):
        snippet = extract_snippet(entry.path.read_text(encoding="utf-8"), budget_chars)
        parts.append(f"### Snippet {number}: {entry.name} ({entry.family})\n\n```python\n{snippet.rstrip()}\n```\n")
    return "\n".join(parts) if parts else "(no backbone snippets in this prompt)\n"


def build_prompt(config: GeneratorConfig, context: GenerationContext, rng: random.Random) -> Prompt:
    """Render the generation prompt for one candidate; `rng` decides the base model and snippets."""
    template = load_template(config.template)
    base, backbones = choose_zoo_code(config, rng, context.zoo_dirs)
    facts = context.facts
    values = {
        "rules": _rules_text(),
        "image_size": facts.image_size,
        "vocab_size": facts.vocab_size,
        "max_len": facts.max_len,
        "references": facts.references_per_image,
        "param_budget": f"{context.param_budget:,}",
        "base_model": base.name if base is not None else "(none)",
        "base_model_source": base.path.read_text(encoding="utf-8").rstrip() if base is not None else "# no base captioning model in the zoo",
        "snippets": _snippet_section(backbones, config.snippet_chars),
        "k": len(backbones),
    }
    return Prompt(
        messages=render(template, values, PROMPT_FIELDS),
        template=template.name,
        base_model=base.name if base is not None else None,
        base_family=base.family if base is not None else None,
        snippets=[e.name for e in backbones],
        k=len(backbones),
    )


def build_repair_prompt(config: GeneratorConfig, code: str, feedback: str, stage: str) -> Prompt:
    """Render the repair prompt: the failing code, what failed (`stage`) and the feedback."""
    template = load_template(config.repair_template)
    values = {"rules": _rules_text(), "stage": stage, "feedback": feedback.strip(), "code": code.rstrip()}
    return Prompt(messages=render(template, values, REPAIR_FIELDS), template=template.name)
