"""Packaging: a regular (non-editable) install works anywhere, like the editable one, and leaves nothing behind.

The install test builds a wheel, installs it into a fresh venv with the versions of this environment (so "the same
package versions" holds), and runs it from an empty folder: the shipped providers file is found, the embedded
reference is certified, the property cases equal the editable install's for the same seed, and the folder holds
nothing but the reports. The lower bounds in pyproject.toml are pinned, one for one, in constraints/min.txt, which
``tox -e min`` installs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from relaycheck.config.providers import load_providers, shipped_providers_file
from relaycheck.property.generate import generate_cases

REPO = Path(__file__).resolve().parents[1]
SEED, MODEL = 4242, "gpt-3.5-turbo-instruct"
VENDOR = "gptnb"
# What a run writes into its working directory, and nothing else
REPORT_DIR = "reports"


def _requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [*project["dependencies"], *extras["test"], *extras["allure"]]


def test_every_lower_bound_is_pinned_for_tox_min() -> None:
    pins = {}
    for line in (REPO / "constraints" / "min.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    bounds = {}
    for requirement in _requirements():
        match = re.match(r"([A-Za-z0-9_.-]+).*?>=\s*([0-9][0-9.]*)", requirement)
        assert match, f"{requirement}: every requirement states a lower bound"
        bounds[match[1].lower()] = match[2]
    assert set(pins) == set(bounds)
    for name, bound in bounds.items():  # 0.28 is pinned as 0.28.0
        assert pins[name].split(".")[: len(bound.split("."))] == bound.split("."), (name, bound, pins[name])


def test_the_providers_file_is_package_data() -> None:
    path = shipped_providers_file()
    assert path.parent == REPO / "relaycheck" / "config"
    assert path.read_bytes() == (REPO / "providers.yaml").read_bytes()
    assert VENDOR in {p.name for p in load_providers(path).providers}


def test_core_never_needs_allure() -> None:
    """allure-pytest is the `allure` extra: every module imports, and the pytest front-end runs, without it."""
    code = """
import pkgutil, importlib, sys
sys.modules["allure"] = None  # an import of either now raises ImportError, as when the extra is not installed
sys.modules["allure_commons"] = None
import relaycheck
for module in pkgutil.walk_packages(relaycheck.__path__, "relaycheck."):
    importlib.import_module(module.name)
from relaycheck.report.allure import allure_active
assert not allure_active()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env.pop(f"{VENDOR.upper()}_API_KEY", None)
    env["HOME"] = str(home)  # anything written "to the user" is seen, not lost in the real home
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh venv with relaycheck installed from a wheel (not editable), and its empty working folder."""
    root = tmp_path_factory.mktemp("install")
    wheels, venv = root / "wheels", root / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("relaycheck-*.whl")
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude", "relaycheck"], check=True,
                            capture_output=True, text=True, timeout=120).stdout
    pins = root / "versions.txt"  # this environment's versions: "the same seed and package versions"
    pins.write_text("\n".join(line for line in frozen.splitlines() if "==" in line) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-c", str(pins), str(wheel)], check=True,
                   timeout=600, capture_output=True)
    work = root / "work"
    work.mkdir()
    return venv, work


def _relaycheck(installed: tuple[Path, Path], *args: str, env: dict[str, str] | None = None):
    venv, work = installed
    return subprocess.run([str(venv / "bin" / "relaycheck"), *args], cwd=work, capture_output=True, text=True,
                          timeout=600, env=env or _clean_env(work.parent / "home"))


@pytest.mark.install
def test_regular_install_finds_the_shipped_providers_file(installed) -> None:
    venv, work = installed
    wide = {**_clean_env(work.parent / "home"), "COLUMNS": "1000"}  # argparse wraps a long path at its hyphens
    help_text = _relaycheck(installed, "run", "--help", env=wide).stdout
    shipped = re.search(r"shipped with relaycheck:\s+(\S+?)\)", help_text)
    assert shipped and Path(shipped[1]).is_file() and "site-packages" in shipped[1]  # --help says where it is
    result = _relaycheck(installed, "run", "-p", VENDOR, "--no-property")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{VENDOR.upper()}_API_KEY" in result.stdout + result.stderr  # skipped, naming the variable to set
    assert "Traceback" not in result.stderr


@pytest.mark.install
def test_regular_install_certifies_and_leaves_only_reports(installed) -> None:
    venv, work = installed
    home = work.parent / "home"
    result = _relaycheck(installed, "run", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((work / REPORT_DIR / "reference.json").read_text(encoding="utf-8"))
    assert any(e["probe"].startswith("property-positive") for e in report["exchanges"])  # the property phase ran
    assert sorted(p.name for p in work.iterdir()) == [REPORT_DIR]
    assert not home.exists() or not any(home.rglob(".hypothesis"))


@pytest.mark.install
def test_regular_and_editable_installs_draw_the_same_cases(installed) -> None:
    venv, work = installed
    code = (f"import json; from relaycheck.property.generate import generate_cases; g = generate_cases({SEED}, 8, 8, "
            f"{MODEL!r}); print(json.dumps([c.text for c in g.examples + g.positive + g.negative]))")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=work, capture_output=True, text=True,
                            timeout=300, env=_clean_env(work.parent / "home"))
    assert result.returncode == 0, result.stderr
    here = generate_cases(SEED, 8, 8, MODEL)  # this process: the editable install, tests and conftest loaded
    assert json.loads(result.stdout) == [c.text for c in here.examples + here.positive + here.negative]
    assert list(work.iterdir()) in ([], [work / REPORT_DIR])


@pytest.mark.install
def test_regular_install_certifies_a_shipped_vendor(installed) -> None:
    """A real vendor from the shipped file; it needs its key (never in CI), and says which variable to set."""
    variable = f"{VENDOR.upper()}_API_KEY"
    if not os.environ.get(variable):
        pytest.skip(f"set {variable} to certify {VENDOR} from a regular install")
    venv, work = installed
    env = {**_clean_env(work.parent / "home"), variable: os.environ[variable]}
    result = _relaycheck(installed, "run", "-p", VENDOR, "--report-dir", "vendor", env=env)
    assert result.returncode in (0, 1), result.stderr  # 1: the vendor fails a MUST check, a verdict all the same
    assert (work / "vendor" / f"{VENDOR}.json").is_file()
