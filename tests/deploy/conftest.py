"""The deploy-fidelity tier runs on `sam build` output (``make deploy-tier``, part of ``make test``).

Run alone, without a build, the tests that need one are skipped; when the Makefile says where it built
(AUTOCALL_SAM_BUILD_DIR) a missing build fails them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import built


@pytest.fixture(scope="session")
def build() -> Path:
    try:
        return built.build_dir()
    except built.BuildMissing as exc:
        if os.environ.get("AUTOCALL_SAM_BUILD_DIR"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def python312() -> str:
    return built.python312()


@pytest.fixture(scope="session")
def moved_layer(build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built layer copied to a fresh path, as Lambda mounts it at /opt/python."""
    return built.move_layer(tmp_path_factory.mktemp("lambda"), build)
