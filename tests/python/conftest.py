"""Shared set-up of the Python binding tests: run by CTest with PYTHONPATH at the built module."""
import os
import pathlib

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("DPU_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))


@pytest.fixture
def source_dir():
    return SOURCE_DIR


@pytest.fixture
def fixtures_dir():
    return SOURCE_DIR / "tests" / "fixtures"
