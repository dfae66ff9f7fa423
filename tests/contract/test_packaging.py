"""Packaging keeps its claims: honest metadata, an sdist that tests itself, tested docs.

The sdist carries its tests and the docs they read, the wheel's metadata states what the
project promises, and the testing guide's third-party test passes against the installed
wheel. The sdist is built from this checkout and the wheel from that unpacked sdist (so
the sdist is proven to build), once per session; the wheel goes into a bare venv that
borrows this environment's dependencies, which keeps the whole module to a few seconds.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTING_GUIDE = ROOT / "docs" / "guides" / "testing.md"
POLICIES = ROOT / "docs" / "policies.md"
THIRD_PARTY_MARK = "<!-- tested: third-party pytest example -->"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(  # noqa: S603  our own interpreter and build backend
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _build(kind: str, source: Path, out: Path) -> Path:
    """Call setuptools' PEP 517 hook directly: no isolated build env to download."""
    hook = "import sys; from setuptools import build_meta as b; print(b.build_%s(sys.argv[1]))"
    name = _run(sys.executable, "-c", hook % kind, out, cwd=source).strip().splitlines()[-1]
    return out / name


@pytest.fixture(scope="session")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build("sdist", ROOT, tmp_path_factory.mktemp("sdist"))


@pytest.fixture(scope="session")
def wheel(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    return _build("wheel", source, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel; its dependencies come from this environment.

    The .pth line appends this environment's site-packages *after* the venv's own, so the
    wheel's copy of phygitals_async wins over any editable install of the checkout.
    """
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel, cwd=venv)  # fmt: skip
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv)
    Path(purelib.strip(), "borrowed-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def _requirement_names(metadata: Message, extra: str | None) -> set[str]:
    names = set()
    for line in metadata.get_all("Requires-Dist") or []:
        marker = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", line)
        if (marker.group(1) if marker else None) == extra:
            names.add(re.split(r"[\s<>=!;\[(~]", line, maxsplit=1)[0].lower())
    return names


def test_sdist_ships_every_test_file_and_what_the_tests_run(sdist: Path) -> None:
    """Every file under tests/ (conftest.py too), examples/ and docs/, gen_sync.py, LICENSE."""
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = {
        path.relative_to(ROOT).as_posix()
        for folder in ("tests", "examples", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "tests/conftest.py" in wanted
    assert wanted <= members, sorted(wanted - members)
    assert {"LICENSE", "README.md", "CHANGELOG.md", "scripts/gen_sync.py"} <= members
    assert "mkdocs.yml" in members
    assert not [m for m in members if m.endswith(".pyc") or "__pycache__" in m]


DASHBOARD_FILES = ("index.html", "dashboard.js", "dashboard.css")


def test_the_dashboard_files_ship_in_the_sdist_and_the_wheel(sdist: Path, wheel: Path) -> None:
    """The sandbox page's own files are in both archives: served offline, from the package."""
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    for name in DASHBOARD_FILES:
        assert f"phygitals_async/testing/dashboard/{name}" in in_sdist
        assert f"phygitals_async/testing/dashboard/{name}" in in_wheel
    assert {"scripts/screenshot_dashboard.py", "docs/images/sandbox-dashboard.png"} <= in_sdist


def test_wheel_metadata_states_licence_urls_pythons_and_floors(wheel: Path) -> None:
    """SPDX licence with its file, project URLs, one classifier per tested Python."""
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Homepage",
        "Documentation",
    }
    classifiers = metadata.get_all("Classifier") or []
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert metadata["Requires-Python"] == ">=3.11"
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        assert "[pytest11]" in archive.read(entry_points).decode()


def test_a_plain_install_pulls_no_test_tools(wheel: Path) -> None:
    """Runtime needs four libraries; pytest comes with `testing`, lint tools only with `dev`."""
    metadata = _metadata(wheel)
    assert _requirement_names(metadata, None) == {"aiohttp", "anyio", "attrs", "cattrs"}
    assert _requirement_names(metadata, "testing") == {"pytest", "pytest-asyncio"}
    assert not {"mypy", "ruff"} & _requirement_names(metadata, "test")
    assert {"mypy", "ruff"} <= _requirement_names(metadata, "dev")


def third_party_snippet() -> str:
    """The code block that follows the marker in the testing guide, exactly as printed there."""
    text = TESTING_GUIDE.read_text()
    assert THIRD_PARTY_MARK in text
    after = text.split(THIRD_PARTY_MARK, 1)[1]
    match = re.match(r"\s*```python\n(.*?)```", after, re.DOTALL)
    assert match, "the marker must be followed by a ```python block"
    return match.group(1)


def test_third_party_snippet_is_about_fifteen_lines() -> None:
    """The testing guide's third-party example stays short enough to copy."""
    lines = [line for line in third_party_snippet().splitlines() if line.strip()]
    assert 10 <= len(lines) <= 20


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_third_party_test_passes_against_the_installed_wheel(
    installed: Path, tmp_path: Path, mode: str
) -> None:
    """The guide's example, copied into a fresh project, passes on the wheel in both modes."""
    (tmp_path / "test_shop.py").write_text(third_party_snippet())
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    where = _run(installed, "-c", "import phygitals_async; print(phygitals_async.__file__)",
                 cwd=tmp_path)  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.parent.parent), where
    out = _run(installed, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
               f"asyncio_mode={mode}", cwd=tmp_path)  # fmt: skip
    assert re.search(r"\b2 passed\b", out), out


def test_policies_floor_table_matches_the_wheel(wheel: Path) -> None:
    """The policies page's table of dependency floors says what the metadata requires."""
    table = dict(re.findall(r"^\| (\w+) \| ([\d.]+) \|", POLICIES.read_text(), re.MULTILINE))
    runtime = [
        line.replace(" ", "")
        for line in _metadata(wheel).get_all("Requires-Dist") or []
        if "extra ==" not in line
    ]
    required = dict(re.findall(r"^([\w-]+)>=([\d.]+)$", "\n".join(runtime), re.MULTILINE))
    assert len(required) == len(runtime), runtime  # every runtime dependency has a floor
    assert table == required
