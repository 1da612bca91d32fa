"""Run configuration: dataclasses loaded from YAML, overridden by --set section.key=value.

Unknown sections and keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nncaption.errors import ConfigError


@dataclass
class DataConfig:
    source: str = "synthetic"  # synthetic | coco | karpathy
    root: str | None = None  # COCO layout root (annotations/, train2017/, val2017/)
    year: int = 2017
    split_file: str | None = None  # Karpathy-style dataset_*.json
    image_root: str | None = None  # karpathy: images are image_root/filepath/filename; default: the split file's folder
    restval: str = "train"  # Karpathy restval images: train (merged into train) | drop
    workers: int = 0  # image decoders while preparing the cache; 0 means one per CPU
    cache_dir: str = "~/.cache/nncaption"
    image_size: int = 32  # side of the square images the models see, in pixels
    max_len: int = 20  # caption tokens kept, not counting <SOS> and <EOS>
    min_count: int = 5  # words seen fewer times in training captions map to <UNK>
    val_images: int = 0  # 0 means the whole split; otherwise a seeded subset
    test_images: int = 0
    synthetic_images: int = 3000  # images in the built-in synthetic set, all splits
    synthetic_size: int = 64  # side of the synthetic images on disk, in pixels
    synthetic_seed: int = 0


@dataclass
class GeneratorConfig:
    kind: str = "composer"
    seed: int = 0
    # LLM generators (kind openai | hf | replay). Nothing connects anywhere unless kind=openai,
    # and then only to base_url.
    base_url: str = "http://127.0.0.1:8000/v1"  # any OpenAI-compatible server (vLLM, Ollama, ...)
    model: str = "deepseek-r1-0528-qwen3-8b"  # model name the server expects in requests
    api_key_env: str = "NNCAPTION_API_KEY"  # environment variable holding the API key, if any
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 16384  # completion tokens per request, reasoning included
    request_timeout_s: float = 600.0  # one request, in seconds
    retries: int = 4  # extra attempts after a rate limit, server error, timeout or dropped connection
    backoff_s: float = 2.0  # first wait before a retry, in seconds; doubles each retry
    concurrency: int = 2  # requests in flight at the same time
    k: int = 5  # backbone snippets per prompt
    snippet_chars: int = 2500  # size budget of one backbone snippet, in characters
    base_model: str | None = None  # zoo captioner the prompt starts from; None picks one per candidate
    template: str = "default"  # a packaged template name or a path to a template file
    repair_template: str = "repair"  # template of the LLM repair rounds
    replay_file: str | None = None  # JSONL of recorded replies (kind=replay)
    record_file: str | None = None  # JSONL that every LLM call is appended to; replayable
    hf_model_dir: str | None = None  # local transformers model directory (kind=hf)
    hf_device: str = "cpu"  # torch device of the hf backend: cpu, cuda, cuda:1, ...
    repair_rounds: int = 2  # LLM repair rounds on validator violations, per candidate
    on_length: str = "continue"  # reply cut at max_tokens: continue | retry | accept
    length_retry_factor: float = 2.0  # max_tokens multiplier when on_length=retry


@dataclass
class TrialConfig:
    epochs: int = 4
    batch_size: int = 32
    max_decode_len: int = 16  # tokens the harness decodes per caption, <EOS> excluded
    timeout_s: float = 900.0  # wall-clock limit of one trial, in seconds
    threads: int = 1  # torch threads inside the trial process
    seed: int = 0
    param_budget: int = 0  # maximum parameters of a candidate; 0 means the contract's default
    decoding: str = "greedy"  # harness decoding through the teacher-forcing forward: greedy | beam
    beam_width: int = 3  # hypotheses kept per image when decoding=beam
    patience: int = 2  # stop after this many epochs without a better val BLEU-4; 0 never stops early
    epoch_time_limit_s: float = 0.0  # projected training seconds per epoch; 0 means timeout_s / epochs
    degenerate_floor: float = 0.5  # best val BLEU-4 below this share of the constant caption's is degenerate
    degenerate_check: bool = True  # false records constant, empty or below-floor captions as trained (smoke runs)
    subset_seed: int = 0  # seed of the fixed val and test subsets (data.val_images, data.test_images)
    eval_batch_size: int = 100  # images per decoding batch
    score_own_inference: bool = True  # also score forward(images) without captions, as a secondary number
    device: str = "auto"  # torch device of the trial: auto (cuda when visible, else cpu), cpu, cuda, cuda:1, ...


@dataclass
class SearchConfig:
    candidates: int = 10
    workers: int = 2  # trials that run at the same time
    seed: int = 0
    lookahead: int = 2  # proposals generated ahead of the free worker slots
    max_trials: int = 0  # trials started (repair attempts included); 0 means no limit
    max_seconds: float = 0.0  # wall-clock budget of the run, summed over resumes, in seconds; 0 means no limit
    max_llm_tokens: int = 0  # prompt plus completion tokens of all LLM calls; 0 means no limit
    baselines: bool = False  # also train the zoo's baseline captioners under the same trial settings
    report: bool = True  # write RUN_DIR/report/ when the search ends
    report_top: int = 5  # candidates in the report's top table, curves and probe captions
    probe_images: int = 6  # val images whose captions the report shows


@dataclass
class ZooConfig:
    extra_dirs: list[str] = field(default_factory=list)  # folders of user model files (e.g. a LEMUR ab/nn/nn checkout)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    trial: TrialConfig = field(default_factory=TrialConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    zoo: ZooConfig = field(default_factory=ZooConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Build a RunConfig from an optional YAML file, then apply `section.key=value` overrides."""
    config = RunConfig()
    if path is not None:
        _apply_file(config, Path(path))
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        dotted, text = item.split("=", 1)
        _assign(config, dotted.strip(), text, from_text=True)
    return config


def _apply_file(config: RunConfig, path: Path) -> None:
    """Assign every `section: {key: value}` of a YAML config file to `config`."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must contain a mapping of sections, found {type(raw).__name__}")
    sections = [f.name for f in dataclasses.fields(config)]
    for section, values in raw.items():
        if section not in sections:
            raise ConfigError(f"unknown config section {section!r} in {path}; known sections: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config section {section!r} in {path} must be a mapping of keys, "
                              f"found {type(values).__name__}")
        for key, value in values.items():
            _assign(config, f"{section}.{key}", value, from_text=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key repeated in one mapping instead of keeping the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` keys may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = first_lines.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key; SafeLoader rejects it below
                continue
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first + 1}); keep one of them",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (invalid byte at offset {exc.start}); "
                          "save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from exc


def _assign(config: RunConfig, dotted: str, value: Any, *, from_text: bool) -> None:
    parts = dotted.split(".")
    if len(parts) != 2:
        raise ConfigError(f"config key {dotted!r} must have the form section.key")
    section_name, key = parts
    sections = {f.name: f for f in dataclasses.fields(config)}
    if section_name not in sections:
        raise ConfigError(f"unknown config section {section_name!r}; known sections: {', '.join(sections)}")
    section = getattr(config, section_name)
    fields = {f.name: f for f in dataclasses.fields(section)}
    if key not in fields:
        raise ConfigError(
            f"unknown config key {dotted!r}; keys of {section_name!r}: {', '.join(fields)}"
        )
    hint = typing.get_type_hints(type(section))[key]
    setattr(section, key, _coerce(dotted, value, hint, from_text=from_text))


def _coerce(dotted: str, value: Any, hint: Any, *, from_text: bool) -> Any:
    """Convert a YAML value or a --set string to the field's declared type."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if from_text and isinstance(value, str):
        if type(None) in allowed and value.strip().lower() in ("none", "null", "~", ""):
            return None
        value = _parse_text(value, allowed)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is type(None):
            continue
        if kind is bool and isinstance(value, bool):
            return value
        if kind in (int, float) and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {dotted!r} expects a finite number, got {value!r}")
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str) and str not in allowed:
            number = _float_text(value)  # YAML 1.1 reads 1e3 (no dot, no sign in the exponent) as text
            if number is not None:
                return _coerce(dotted, number, hint, from_text=False)
        if kind is str and isinstance(value, str):
            return value
        if typing.get_origin(kind) is list and isinstance(value, list):
            return _string_list(dotted, value)
        if typing.get_origin(kind) is list and isinstance(value, str):
            return [value]  # one value given for a list key
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    hint = ""
    if str in allowed and isinstance(value, (int, float)):
        # YAML 1.1 reads unquoted 12:30 as 750 and 017 as 15, so the text cannot be recovered here.
        hint = "; YAML read the value as a number, so put it in quotes"
    raise ConfigError(f"config key {dotted!r} expects {names}, got {value!r}{hint}")


def _float_text(text: str) -> float | None:
    """Return the number that `text` spells for Python's float(), such as 1e3 or nan, else None."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def _parse_text(text: str, allowed: tuple[Any, ...]) -> Any:
    """Read a --set value as YAML, except where a string field or a single list item needs the raw text.

    YAML 1.1 reads unquoted text such as `12:30` (sexagesimal, 750), `017` (octal, 15) or
    `yes` (true) as other types, so a string field keeps the text as given. Text in matching
    quotes is still read as YAML, which removes the quotes.
    """
    stripped = text.strip()
    if not stripped:
        return text
    quoted = len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\""
    wants_list = any(typing.get_origin(kind) is list for kind in allowed)
    if str in allowed and not quoted:
        return text
    if wants_list and not stripped.startswith("[") and not quoted:
        return text
    return yaml.safe_load(text)


def _string_list(dotted: str, value: list[Any]) -> list[str]:
    """Return `value` when every item is a string. Numbers and booleans are rejected, not converted."""
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"config key {dotted!r} expects a list of strings (paths), got {item!r} in {value!r}; "
                              "quote the item if it is a folder name")
    return list(value)


# --- range checks ---------------------------------------------------------------------------

DATA_SOURCES = ("synthetic", "coco", "karpathy")
RESTVAL_CHOICES = ("train", "drop")
SYNTHETIC_IMAGES_RANGE = (10, 1_000_000)  # every split needs images; the upper end keeps a typo from filling the disk
MAX_IMAGE_SIZE = 1024  # pixels: 3 MiB per image in the prepared cache, which trials memory-map
MAX_CAPTION_TOKENS = 512  # data.max_len: the train caption array is images x references x (max_len + 2) int32
SEED_RANGE = (0, 2**32 - 1)  # every seed: what numpy.random.seed accepts
SYNTHETIC_SIZE_RANGE = (24, 1024)  # pixels: below 24 the shapes blur together; 1024 is about 3 MiB per decoded image


def check_config(config: RunConfig) -> None:
    """Raise ConfigError on the first out-of-range or unknown value, section by section.

    The CLI calls this right after `load_config`, and `open_run` calls it again before it
    creates the run directory, so an invalid value fails before any data preparation.
    """
    check_data_config(config.data)
    check_search_config(config.search)
    check_trial_values(config.trial)
    check_seeds(config)
    # Imported here because these modules import this one.
    from nncaption.trial.runner import check_trial_config

    check_trial_config(config)
    check_generator_kind(config.generator)
    from nncaption.generate.llm.checks import check_generator_config

    check_generator_config(config.generator, config.zoo.extra_dirs)


def check_data_config(data: DataConfig) -> None:
    """Raise ConfigError when a `data` value is unknown or out of range."""
    if data.source not in DATA_SOURCES:
        raise ConfigError(f"unknown data.source {data.source!r}; expected one of: {', '.join(DATA_SOURCES)}")
    if data.restval not in RESTVAL_CHOICES:
        raise ConfigError(f"data.restval must be one of {', '.join(RESTVAL_CHOICES)}, got {data.restval!r}")
    for name in ("image_size", "max_len", "min_count"):
        _check_at_least(f"data.{name}", getattr(data, name), 1)
    if data.image_size > MAX_IMAGE_SIZE:
        raise ConfigError(f"data.image_size must be at most {MAX_IMAGE_SIZE} pixels (the prepared cache stores "
                          f"3 x {MAX_IMAGE_SIZE}^2 bytes, 3 MiB, per image), got {data.image_size:,}")
    if data.max_len > MAX_CAPTION_TOKENS:
        raise ConfigError(f"data.max_len must be at most {MAX_CAPTION_TOKENS} tokens (the train caption array "
                          f"grows with it), got {data.max_len:,}")
    if not data.cache_dir.strip():
        raise ConfigError("data.cache_dir is empty; set it to the folder for prepared data sets "
                          "(default ~/.cache/nncaption) or leave it out")
    for name in ("workers", "val_images", "test_images"):
        _check_at_least(f"data.{name}", getattr(data, name), 0)
    if data.source == "synthetic":
        check_synthetic_values(data.synthetic_images, data.synthetic_size, "data.synthetic_images", "data.synthetic_size")


def check_synthetic_values(images: int, size: int, images_name: str, size_name: str) -> None:
    """Raise ConfigError unless the synthetic set's image count and side are in range; the names are for the message."""
    low, high = SYNTHETIC_IMAGES_RANGE
    if not low <= images <= high:
        raise ConfigError(f"{images_name} must be between {low} and {high:,} so that every split gets images "
                          f"and the set fits on disk, got {images:,}")
    low, high = SYNTHETIC_SIZE_RANGE
    if not low <= size <= high:
        raise ConfigError(f"{size_name} must be between {low} and {high} pixels (shapes stay recognisable and an "
                          f"image fits in memory), got {size:,}")


def check_seeds(config: RunConfig) -> None:
    """Raise ConfigError when any `*seed` key of any section is outside SEED_RANGE."""
    low, high = SEED_RANGE
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for key in dataclasses.fields(values):
            value = getattr(values, key.name)
            if key.name.endswith("seed") and isinstance(value, int) and not low <= value <= high:
                raise ConfigError(f"{section.name}.{key.name} must be between {low} and 2**32 - 1 ({high}), got {value}")


def check_trial_values(trial: TrialConfig) -> None:
    """Raise ConfigError when `trial.seed` or `trial.param_budget` is out of range.

    The other `trial` values are checked by `nncaption.trial.runner.check_trial_config`.
    """
    low, high = SEED_RANGE
    if not low <= trial.seed <= high:
        raise ConfigError(f"trial.seed must be between {low} and 2**32 - 1 ({high}), got {trial.seed}")
    if trial.param_budget < 0:
        raise ConfigError(f"trial.param_budget must be a positive parameter count, or 0 for the contract's "
                          f"default, got {trial.param_budget}")


def check_search_config(search: SearchConfig) -> None:
    """Raise ConfigError when a `search` value is out of range."""
    _check_at_least("search.workers", search.workers, 1)
    _check_at_least("search.report_top", search.report_top, 1)
    for name in ("candidates", "lookahead", "max_trials", "max_seconds", "max_llm_tokens", "probe_images"):
        _check_at_least(f"search.{name}", getattr(search, name), 0)


def check_generator_kind(generator: GeneratorConfig) -> None:
    """Raise ConfigError unless `generator.kind` names a registered generator."""
    # Imported here because the generator modules import this one.
    from nncaption.generate import GENERATORS, load_generators

    load_generators()
    if generator.kind not in GENERATORS:
        raise ConfigError(f"unknown generator.kind {generator.kind!r}; expected one of: {', '.join(sorted(GENERATORS))}")


def _check_at_least(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")


def dump_config(config: RunConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
