"""pytest fixtures: one fresh fake server per test, stopped afterwards."""

from __future__ import annotations

import pytest

from .fake_assemblyai import FakeAssemblyAI
from .fake_deepgram import FakeDeepgram
from .fake_gladia import FakeGladia
from .fake_openai import FakeOpenAI
from .fake_revai import FakeRevAI
from .fake_soniox import FakeSoniox
from .fake_speechmatics import FakeSpeechmatics


@pytest.fixture
def fake_deepgram():
    with FakeDeepgram() as server:
        yield server


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_assemblyai():
    with FakeAssemblyAI() as server:
        yield server


@pytest.fixture
def fake_speechmatics():
    with FakeSpeechmatics() as server:
        yield server


@pytest.fixture
def fake_revai():
    with FakeRevAI() as server:
        yield server


@pytest.fixture
def fake_gladia():
    with FakeGladia() as server:
        yield server


@pytest.fixture
def fake_soniox():
    with FakeSoniox() as server:
        yield server
