"""The hf backend through the real transformers generate path, with a tiny random model built here."""

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate.llm.backend import RequestKey
from nncaption.generate.llm.cancel import CANCELLED, RequestCancelled, cancel_requests
from nncaption.generate.llm.hf_backend import HFBackend

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

WORDS = ["hello", "<pad>", "</s>", "[UNK]", "<|user|>", "<|assistant|>", "<think>", "</think>", "import", "torch"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [{"role": "user", "content": "import torch"}]
KEY = RequestKey(candidate=0, call=0)


def _build_model(directory: Path, *, zero_head: bool) -> Path:
    """Save a one-layer Llama and a word-level tokenizer; a zero head makes greedy decoding pick id 0."""
    import torch

    vocab = {word: index for index, word in enumerate(WORDS)}
    word_level = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    word_level.decoder = tokenizers.decoders.WordPiece(prefix="##")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=word_level, unk_token="[UNK]", pad_token="<pad>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
        eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"], bos_token_id=None, tie_word_embeddings=False,
    )
    model = transformers.LlamaForCausalLM(config)
    if zero_head:
        with torch.no_grad():
            model.lm_head.weight.zero_()
    model.save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_greedy_reply_cut_at_token_limit(tmp_path):
    directory = _build_model(tmp_path / "tiny", zero_head=True)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(directory), temperature=0.0))

    reply = backend.complete(MESSAGES, max_tokens=6, key=KEY)

    assert reply.content.split() == ["hello"] * 6
    assert reply.tokens_out == 6
    assert reply.finish_reason == "length"
    # "<|user|> import torch <|assistant|>" is four tokens under the word-level tokenizer.
    assert reply.tokens_in == 4
    assert reply.model == "tiny"
    assert reply.latency_s > 0


@pytest.mark.slow
def test_sampling_reply_within_budget(tmp_path):
    directory = _build_model(tmp_path / "tiny", zero_head=False)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(directory), temperature=0.8, top_p=0.9))

    reply = backend.complete(MESSAGES, max_tokens=8, key=KEY)

    assert 1 <= reply.tokens_out <= 8
    assert reply.finish_reason in ("stop", "length")
    assert isinstance(reply.content, str)
    again = backend.complete(MESSAGES, max_tokens=3, key=KEY)
    assert again.tokens_out <= 3


def test_missing_model_dir_rejected(tmp_path):
    with pytest.raises(ConfigError, match="hf_model_dir"):
        HFBackend(GeneratorConfig(kind="hf"))
    with pytest.raises(ConfigError, match="not a directory"):
        HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(tmp_path / "absent")))


# Far more tokens than a test may take: without a working cancel, generation runs for minutes.
ENDLESS_TOKENS = 100_000


class CountingForward:
    """Wraps a model's forward: counts decoding steps and sets `started` after the third."""

    def __init__(self, model) -> None:
        self.forward = model.forward
        self.calls = 0
        self.started = threading.Event()

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls >= 3:
            self.started.set()
        return self.forward(*args, **kwargs)


def _generate_in_thread(backend: HFBackend) -> tuple[threading.Thread, dict]:
    """Start an endless greedy request on a thread; the dict receives its reply or error."""
    outcome: dict = {}

    def request() -> None:
        try:
            outcome["reply"] = backend.complete(MESSAGES, max_tokens=ENDLESS_TOKENS, key=KEY)
        except Exception as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    return thread, outcome


@pytest.fixture
def clear_cancelled():
    """Leave the run-wide cancel event clear for the tests after this one."""
    CANCELLED.clear()
    yield
    CANCELLED.clear()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["backend", "run-wide"])
def test_cancel_ends_running_generation(tmp_path, clear_cancelled, how):
    directory = _build_model(tmp_path / "tiny", zero_head=True)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(directory), temperature=0.0))
    _, model = backend._load()
    counter = CountingForward(model)
    model.forward = counter

    thread, outcome = _generate_in_thread(backend)
    assert counter.started.wait(60), "generation did not start within 60 s"
    if how == "backend":
        backend.cancel()
    else:
        cancel_requests()  # what the first Ctrl-C does through cancel.watch_interrupts
    steps_at_cancel = counter.calls
    thread.join(30)

    assert not thread.is_alive(), f"generation still running 30 s after cancel, {counter.calls} steps in"
    assert isinstance(outcome.get("error"), RequestCancelled)
    # The criterion runs after every token, so at most the step under way finishes.
    assert counter.calls - steps_at_cancel <= 1


def test_cancelled_backend_rejects_requests(tmp_path, clear_cancelled):
    # The request fails before loading, so an empty model folder is enough.
    (tmp_path / "empty").mkdir()
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(tmp_path / "empty")))
    backend.cancel()
    with pytest.raises(RequestCancelled, match="the run was interrupted"):
        backend.complete(MESSAGES, max_tokens=4, key=KEY)


def test_new_backend_forgets_earlier_interrupt(tmp_path, clear_cancelled):
    (tmp_path / "empty").mkdir()
    cancel_requests()
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(tmp_path / "empty")))
    assert not CANCELLED.is_set()
    assert not backend._cancelled()


# A generator thread in a pool, as in the search driver, running an endless generation.
# SIGUSR1 makes the script print every thread's stack, for the failure message.
POOL_SCRIPT = textwrap.dedent(
    """
    import faulthandler
    import signal
    import sys
    from concurrent.futures import ThreadPoolExecutor, wait
    from nncaption.config import GeneratorConfig
    from nncaption.generate.llm.backend import RequestKey
    from nncaption.generate.llm.hf_backend import HFBackend

    faulthandler.register(signal.SIGUSR1)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=sys.argv[1], temperature=0.0))
    _, model = backend._load()
    forward = model.forward

    def announce_first_step(*args, **kwargs):
        if not getattr(model, "announced", False):
            model.announced = True
            print("generating", flush=True)
        return forward(*args, **kwargs)

    model.forward = announce_first_step
    messages = [{"role": "user", "content": "import torch"}]
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(backend.complete, messages, max_tokens=int(sys.argv[2]), key=RequestKey(0, 0))
        # Wait in short steps, as the search driver does. Under load, one blocking wait here sometimes
        # never saw the SIGINT: a stack dump showed the main thread still in wait 30 s later.
        while not future.done():
            wait([future], timeout=0.2)
    """
)


@pytest.mark.slow
def test_one_sigint_ends_a_generating_process(tmp_path):
    directory = _build_model(tmp_path / "tiny", zero_head=True)
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(directory), str(ENDLESS_TOKENS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().strip() == "generating", process.stderr.read()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the process was still running 30 s after one SIGINT; its stderr ends:\n{stderr[-3000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
