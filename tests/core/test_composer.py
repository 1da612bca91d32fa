import ast
import json
import subprocess
import sys
import textwrap

import pytest

from nncaption.codegen.validate import status_for, validate_source
from nncaption.config import GeneratorConfig
from nncaption.generate import DataFacts, GenerationContext
from nncaption.generate.composer import DECODER_KINDS, FEATURE_MODES, Composer

CONTEXT = GenerationContext(DataFacts(image_size=32, vocab_size=50, max_len=12, references_per_image=5), 5_000_000, 0)

CHILD_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    from nncaption.trial.modload import load_candidate
    from nncaption.trial.decode import greedy_decode, teacher_forcing_logits
    report = []
    for index, (path, prm) in enumerate(json.load(open(sys.argv[1]))):
        module = load_candidate(path, name=f"candidate_{index}")
        net = module.Net((4, 3, 32, 32), (50,), prm, torch.device("cpu"))
        captions = torch.randint(4, 50, (4, 5, 9)); captions[:, :, 0] = 1
        logits = teacher_forcing_logits(net, torch.randn(4, 3, 32, 32), captions)
        tokens = greedy_decode(net.eval(), torch.randn(4, 3, 32, 32), 6)
        keys = sorted(module.supported_hyperparameters())
        report.append({"logits": list(logits.shape), "tokens": list(tokens.shape), "keys": keys})
    print(json.dumps(report))
    """
)


def test_composer_same_index_same_file():
    first = Composer(GeneratorConfig(seed=7), CONTEXT).propose(3)
    second = Composer(GeneratorConfig(seed=7), CONTEXT).propose(3)
    assert first.source == second.source
    assert first.meta == second.meta


def test_composer_seed_changes_designs():
    designs_a = [Composer(GeneratorConfig(seed=1), CONTEXT).propose(i).meta["design"] for i in range(8)]
    designs_b = [Composer(GeneratorConfig(seed=2), CONTEXT).propose(i).meta["design"] for i in range(8)]
    assert designs_a != designs_b


def test_composer_covers_design_space():
    designs = [Composer(GeneratorConfig(seed=0), CONTEXT).propose(i).meta["design"] for i in range(60)]
    assert {d["decoder"] for d in designs} == set(DECODER_KINDS)
    assert {d["features"] for d in designs} == set(FEATURE_MODES)
    assert len({d["backbone"] for d in designs}) >= 3


def test_composer_files_pass_validator():
    composer = Composer(GeneratorConfig(seed=0), CONTEXT)
    for index in range(30):
        source = composer.propose(index).source
        ast.parse(source)
        violations = validate_source(source)
        assert status_for(violations) is None, [v.to_dict() for v in violations if v.severity == "error"]


@pytest.mark.slow
def test_composer_files_build_in_child_process(tmp_path):
    composer = Composer(GeneratorConfig(seed=11), CONTEXT)
    jobs = []
    for index in range(24):
        proposal = composer.propose(index)
        path = tmp_path / f"model_{index}.py"
        path.write_text(proposal.source)
        jobs.append((str(path), proposal.meta["prm"]))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))

    completed = subprocess.run([sys.executable, "-c", CHILD_SCRIPT, str(tmp_path / "jobs.json")],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    assert len(report) == len(jobs)
    for (_, prm), item in zip(jobs, report, strict=True):
        assert item["logits"] == [4, 8, 50]
        assert item["tokens"][0] == 4
        assert item["tokens"][1] <= 6
        assert item["keys"] == sorted(prm)
