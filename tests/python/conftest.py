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


def install_fake_dot(directory, body):
    """Writes an executable `dot` into directory that runs the shell code body; DotToSvg's
    "-oFILE" argument is in $OUT. Put directory on PATH (monkeypatch.setenv) to use it."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "dot"
    script.write_text('#!/bin/sh\nfor a; do case "$a" in -o*) OUT="${a#-o}";; esac; done\n'
                      + body + "\n")
    script.chmod(0o755)
    return script
