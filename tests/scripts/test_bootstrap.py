"""scripts/bootstrap.sh: ./run-app installs the app only, ./run-tests adds the test extras, and re-runs
are no-ops. The script runs for real in a scratch copy of the repository, with a fake `.venv/bin/python`
that records every pip call and a fake `dpkg-query` that reports every system package installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="bash script")

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../pip-calls.log"
"""


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("bootstrap.sh", "apt-packages.txt", "apt-packages-test.txt"):
        shutil.copy2(ROOT / "scripts" / name, repo / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    python = repo / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    dpkg = fake_bin / "dpkg-query"
    dpkg.write_text("#!/bin/sh\necho 'install ok installed'\n")
    dpkg.chmod(0o755)
    return repo


def bootstrap(repo: Path, *args: str) -> list[str]:
    """Run the script; return the pip calls it made (arguments after `-m pip install ...`)."""
    log = repo / ".venv" / "pip-calls.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{repo.parent / 'bin'}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        ["bash", "scripts/bootstrap.sh", *args], cwd=repo, env=env, check=True, capture_output=True
    )
    if not log.exists():
        return []
    return [
        re.sub(r"^-m pip install -q --disable-pip-version-check ", "", line)
        for line in log.read_text().splitlines()
    ]


def extras() -> dict[str, set[str]]:
    """Package names in each extra of the installed encodec-studio (its metadata mirrors pyproject.toml)."""
    found: dict[str, set[str]] = {}
    for requirement in requires("encodec-studio") or []:
        match = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if match:
            found.setdefault(match.group(1), set()).add(re.split(r"[<>=!~\[ ;]", requirement)[0].lower())
    return found


def test_app_install_has_no_test_only_package(scratch: Path) -> None:
    calls = bootstrap(scratch, "app")
    assert calls[-1] == "-e .[gui]"
    assert calls[0].startswith("torch")
    joined = " ".join(calls)
    assert "encodec==" not in joined and "test" not in joined and "package" not in joined


def test_levels_and_stamp(scratch: Path) -> None:
    assert bootstrap(scratch)[-1] == "-e .[gui]"  # no level given: the app's
    assert bootstrap(scratch, "app") == []  # already done
    test_calls = bootstrap(scratch, "test")  # an app install does not satisfy the tests
    assert "-e .[gui,test,package,tokenize]" in test_calls
    assert "--no-deps encodec==0.1.1" in test_calls
    assert bootstrap(scratch, "test") == []
    assert bootstrap(scratch, "app") == []  # the test install covers the app
    (scratch / "pyproject.toml").write_text((scratch / "pyproject.toml").read_text() + "\n# changed\n")
    assert bootstrap(scratch, "app") != []  # a changed pyproject installs again


def test_print_lists_what_each_level_installs() -> None:
    app = subprocess.run(
        ["bash", "scripts/bootstrap.sh", "--print", "app"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    test = subprocess.run(
        ["bash", "scripts/bootstrap.sh", "--print", "test"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    apt_app = app.split("pip:")[0].split()
    apt_test = test.split("pip:")[0].split()
    assert set(apt_app) < set(apt_test)
    for only_for_tests in ("xvfb", "pulseaudio", "binutils"):
        assert only_for_tests in apt_test and only_for_tests not in apt_app
    # The extras run-app leaves out exist in pyproject.toml and hold the test-only packages.
    found = extras()
    test_only = found["test"] | found["package"]
    assert {"pytest", "transformers", "hypothesis", "pyinstaller", "matplotlib"} <= test_only
    assert not test_only & found["gui"]


def test_unknown_level_is_refused(scratch: Path) -> None:
    result = subprocess.run(
        ["bash", "scripts/bootstrap.sh", "everything"], cwd=scratch, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown level" in result.stderr
