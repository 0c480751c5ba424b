"""Shared test fixtures: where the team's shared data lives (../shared beside the checkout, as in CI)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"../shared/data is missing next to the checkout ({SHARED_DATA}); tests need it, as CI has it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def humanml3d_sample(shared_data: Path) -> Path:
    return shared_data / "humanml3d-sample"


@pytest.fixture(scope="session")
def bandai_namco_sample(shared_data: Path) -> Path:
    return shared_data / "bandai-namco" / "sample"


@pytest.fixture(scope="session")
def sample_dataset(bandai_namco_sample, tmp_path_factory) -> Path:
    """The 21 sample takes built into a dataset (42 motions with mirrors), shared by tests that need one."""
    from app.engine.data.build import build_bandai_namco

    out = tmp_path_factory.mktemp("sample-dataset") / "bn"
    build_bandai_namco(bandai_namco_sample, out, workers=1)
    return out


@pytest.fixture(scope="session")
def heldout_test_split(shared_data, tmp_path_factory) -> Path:
    """The first 150 held-out takes of the real archives (300 motions with mirrors): the test split as CI can
    afford it (about 20 s), so evaluator checks run on label pairs never seen in training."""
    from app.engine.data.build import build_bandai_namco

    out = tmp_path_factory.mktemp("heldout") / "bn-test"
    build_bandai_namco(shared_data / "bandai-namco", out, split="test", limit=150, workers=1)  # no fork inside pytest
    return out
