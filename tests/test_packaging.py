"""An installed PoseCast (a wheel, not this checkout) finds every file it opens at run time, and the training
commands that run records and model cards write work from any folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from posecast.errors import ValueRangeError
from posecast.models.learned import CONFIG_DIR
from posecast.training.entry import plugin_for, reproduce_command, shipped_config

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_every_package_file(tmp_path):
    """Every tracked file under src/posecast that is not Python (weights, training configs, the server's page, the
    detector-noise model, py.typed) is in the wheel: the training configs had been left out of pyproject's
    package-data, so `posecast train` from a wheel found no config (an editable install reads them in place)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the tracked files are the reference)")
    tracked = subprocess.run(
        ["git", "ls-files", "src/posecast"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = {p.removeprefix("src/") for p in tracked if not p.endswith(".py")}
    assert {p.split("/")[1] for p in wanted} >= {"configs", "weights", "serve", "video"}
    # built from a copy: setuptools reuses a stale build/lib, which could hold files the globs no longer name
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    code = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "dist")], cwd=tree, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set(zipfile.ZipFile(tmp_path / "dist" / done.stdout.split()[-1]).namelist())
    missing = sorted(wanted - names)
    assert not missing, f"{len(missing)} package files not in the wheel (pyproject package-data): {missing[:10]}"
    # the licence travels with the wheel (QA: none in the repository or the wheel)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(n for n in names if "dist-info" in n)


def test_a_shipped_config_is_found_by_name_or_by_its_source_path_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: src/posecast/configs/... does not exist relative to here
    stage2 = CONFIG_DIR / "st-transformer" / "corpus-stage2.yaml"
    assert shipped_config("st-transformer", "src/posecast/configs/st-transformer/corpus-stage2.yaml") == stage2
    assert shipped_config("st-transformer", "corpus-stage2") == stage2
    assert shipped_config("st-transformer", "corpus-stage2.yaml") == stage2
    # a missing path of the user's is refused, never replaced by the shipped file of that name (a review found
    # /etc/configs/..., mine/configs/<model>/... and another model's checkout path redirected)
    for missing in (
        "src/posecast/configs/dct-mlp/corpus-stage2.yaml",
        "mine/corpus-stage2.yaml",
        "mine/configs/st-transformer/corpus-stage2.yaml",
        str(tmp_path / "configs" / "st-transformer" / "corpus-stage2.yaml"),
        "corpus-stage9",
    ):
        with pytest.raises(ValueRangeError, match="no such file, and st-transformer ships no config of that name"):
            shipped_config("st-transformer", missing)
    # a file of the user's wins: as given, and a bare name finds ./NAME.yaml before the shipped NAME
    (tmp_path / "corpus.yaml").write_text("model: st-transformer\n")
    assert shipped_config("st-transformer", "corpus.yaml") == Path("corpus.yaml")
    assert shipped_config("st-transformer", "corpus") == Path("corpus.yaml")


def test_the_reproduce_command_without_a_shipped_config_is_a_command(monkeypatch, tmp_path):
    """Without shipped configs (a wheel that lacked them) the record had crashed the run with a pydantic
    traceback: the schema's required fields have no defaults to differ from."""
    import yaml

    import posecast.training.entry as entry

    cfg = {"model": "dct-mlp", **yaml.safe_load((CONFIG_DIR / "dct-mlp" / "corpus.yaml").read_text())}
    assert reproduce_command("dct-mlp", cfg).startswith("posecast train --model dct-mlp --config src/posecast/configs/")
    monkeypatch.setattr(entry, "CONFIG_DIR", tmp_path)  # no config of any model
    assert plugin_for("dct-mlp") is not None
    assert reproduce_command("dct-mlp", cfg) == "posecast train --model dct-mlp --config CONFIG --out RUN"


def test_the_source_distribution_holds_what_the_readme_links_to(tmp_path):
    """The README links to docs/, benchmarks/ and their results; the source distribution (setuptools: the package,
    README and LICENSE by itself) carries them through MANIFEST.in, with the tests and the make entry points (they
    had been left out: every such link of an unpacked sdist was broken)."""
    import re
    import tarfile

    tree = tmp_path / "tree"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    for folder in ("src", "docs", "benchmarks", "tests"):
        shutil.copytree(ROOT / folder, tree / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "Makefile", "constraints.txt"):
        shutil.copy(ROOT / name, tree / name)
    code = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "dist")], cwd=tree, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with tarfile.open(tmp_path / "dist" / done.stdout.split()[-1]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = {
        m.split("#")[0] for m in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in m and not m.startswith("#")
    }
    links.discard("")
    assert {"docs/guide.md", "docs/benchmarks.md"} <= links, sorted(links)
    missing = sorted(link for link in links if link.rstrip("/") not in names and not any(
        n.startswith(link.rstrip("/") + "/") for n in names))  # fmt: skip
    assert not missing, f"README links missing from the sdist (MANIFEST.in): {missing}"
    assert {"Makefile", "constraints.txt", "tests/test_packaging.py"} <= names
