"""The README's newcomer path stays true: the two set-up lines, the demo's job file as printed,
every `python app.py ...` line of the walkthrough a command the CLI accepts, its job file valid,
and the mock provider's documented params the ones it takes."""

from __future__ import annotations

import json
import re
import shlex

from conftest import REPO

from spectragram_bench.app import build_parser, normalise_argv
from spectragram_bench.core.config import load_config
from spectragram_bench.providers.mock_provider import MockParams

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_two_set_up_lines_come_first():
    first = re.search(r"```bash\n(.*?)```", README, re.S).group(1).splitlines()
    assert first == ["pip install -e . && python app.py --config jobs/demo_librispeech.json",
                     "pip install -e '.[test]' && python -m pytest"]


def test_the_job_example_is_the_demo_job():
    block = re.search(r"```json\n(.*?)```", section("Job files"), re.S).group(1)
    assert json.loads(block) == json.loads((REPO / "jobs" / "demo_librispeech.json").read_text())


def test_the_walkthrough_commands_parse_and_its_job_is_valid():
    walk = section("Compare two vendors")
    lines = [ln.split("#", 1)[0].strip() for ln in re.search(r"```bash\n(.*?)```", walk, re.S).group(1).splitlines()]
    commands = [shlex.split(ln)[2:] for ln in lines if ln.startswith("python app.py")]
    assert [c[0] for c in commands] == ["run", "run", "list", "compare", "report"]
    parser = build_parser()
    for argv in commands:
        parser.parse_args(normalise_argv(argv))  # SystemExit on an option the CLI does not have
    config = load_config(REPO / "jobs" / "two_vendors.json")
    assert [p.name for p in config.providers] == ["deepgram", "openai"]
    assert "--config jobs/two_vendors.json" in walk


def test_the_mock_provider_params_are_documented():
    mock = README.split("### The mock provider\n", 1)[1].split("\n## ", 1)[0]
    documented = {name for row in re.findall(r"^\| (`.*?`) \|", mock, re.M) for name in re.findall(r"`(\w+)`", row)}
    assert documented == set(MockParams.model_fields)
