"""The command line as a user meets it: exit codes, one-line errors, files written or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.synthetic import synthetic_walk


def run(*args: str, cwd: Path | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def walk_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "walk.npz"
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), path)
    return path


MODEL_KEYS = [
    "name",
    "kind",
    "summary",
    "inputs",
    "outputs",
    "needs_fit",
    "learned",
    "stochastic",
    "distinct_samples",
    "variants",
    "default_for",
    "default",
    "uses",
]
VARIANT_KEYS = ["name", "skeleton", "fps", "default", "card"]


def test_help_and_models():
    r = run("--help")
    assert r.returncode == 0 and "forecast" in r.stdout
    r = run("models", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [m["name"] for m in listed] == [m.name for m in posecast.models.available()]  # every registry entry
    for m in listed:
        assert list(m) == MODEL_KEYS, m["name"]
        assert m["kind"] in ("motion", "video", "keypose", "classifier") and m["default"] == bool(m["default_for"])
        for v in m["variants"]:
            assert list(v) == VARIANT_KEYS, (m["name"], v)
            assert (Path(posecast.__file__).parent / v["card"]).is_file(), v
        if m["variants"]:
            assert sum(v["default"] for v in m["variants"]) == 1, m["name"]
    infos = {m["name"]: m for m in listed}
    assert {"zero-velocity", "constant-velocity", "nearest-neighbour"} <= set(infos)
    assert infos["nearest-neighbour"]["needs_fit"] and not infos["zero-velocity"]["learned"]
    # which models draw their samples at random, and which give K different ones at all
    assert [n for n, m in infos.items() if m["stochastic"]] == ["charpose"]
    assert [n for n, m in infos.items() if m["distinct_samples"]] == ["nearest-neighbour", "charpose"]
    assert infos["dct-mlp"]["kind"] == "motion" and infos["dct-mlp"]["learned"] and infos["dct-mlp"]["variants"]
    assert infos["phd"]["kind"] == "video" and infos["charpose"]["kind"] == "keypose"
    assert {"phd", "posemonet", "hmmr"} <= {n for n, m in infos.items() if m["kind"] == "video"}
    assert "rotations" in infos["st-transformer-rot"]["inputs"]
    for input_kind in ("motion", "video", "image"):
        defaults = [m["name"] for m in listed if m["default_for"] == [input_kind]]
        assert len(defaults) == 1, (input_kind, defaults)
        assert defaults[0] == posecast.models.default_model(input_kind).name


def test_models_text_listing_marks_defaults_and_weights():
    r = run("models", env_extra={"COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: " ".join(line.split()) for line in r.stdout.splitlines() if line.strip()}
    for m in posecast.models.available():
        assert m.name in lines, m.name
        assert lines[m.name].split()[1] == m.kind
    assert "no weights needed" in lines["zero-velocity"] and "needs training motions" in lines["nearest-neighbour"]
    assert "weights: cmu-bvh, cmu-bvh-regression, corpus*, corpus-regression" in lines["charpose"]
    # QA: the lift+forecast models were listed as needing no weights; they name the shipped weights they combine,
    # and every one of those exists
    assert "uses lifter/corpus, dct-mlp/lifted-body-17" in lines["lift+forecast"]
    for m in posecast.models.available():
        for used in m.uses:
            name, variant = used.split("/")
            assert variant in {v["name"] for v in posecast.models.info(name).variants()}, (m.name, used)
    for input_kind in ("motion", "video", "image"):
        name = posecast.models.default_model(input_kind).name
        assert f"(default for {input_kind} inputs)" in lines[name]
    assert sum("(default for" in line for line in lines.values()) == 3


def test_command_modules_import_neither_the_app_nor_each_other():
    """`posecast.cli.app` builds the app from the command modules; they share `posecast.cli.common` only."""
    import ast

    import posecast.cli

    folder = Path(posecast.cli.__file__).parent
    modules = {p.stem: p for p in folder.glob("*.py") if p.stem != "__init__"}
    commands = set(modules) - {"app", "common"}
    assert {"files", "models_cmd", "forecast", "bench", "train", "keyposes", "video", "demo"} <= commands

    def cli_imports(path: Path) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):  # also the imports inside functions
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found |= {n.split(".")[2] for n in names if n.startswith("posecast.cli.") and n.count(".") >= 2}
        return found

    for name in sorted(commands):
        assert cli_imports(modules[name]) <= {"common"}, f"posecast.cli.{name} imports {cli_imports(modules[name])}"
    assert cli_imports(modules["common"]) == set()
    assert cli_imports(modules["app"]) == commands | {"common"}  # every command module is part of the app
    from posecast.cli import app as app_module

    assert {m.__name__.rsplit(".", 1)[1] for m in app_module.COMMAND_MODULES} == commands


def test_info(walk_file):
    r = run("info", str(walk_file), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["frames"] == 76 and d["fps"] == 25.0 and d["skeleton"] == "cmu-bvh-31"
    assert d["tracking_glitches"] == [] and d["rest_pose_frames"] == 0 and d["jitter_mm"] < 1.0


def test_info_names_tracking_glitches(walk_file, tmp_path):
    walk = posecast.load(walk_file)
    holed = walk.positions.copy()
    holed[30:33, 20] = 0.0  # LeftHand at the origin for 3 frames
    holed[70:, 3] = 0.0  # LeftFoot from frame 70 on
    np.save(tmp_path / "holed.npy", holed)
    r = run("info", str(tmp_path / "holed.npy"), "--skeleton", "cmu-bvh-31", "--fps", "25", "--json")
    assert r.returncode == 0, r.stderr
    names = walk.skeleton.joint_names
    assert json.loads(r.stdout)["tracking_glitches"] == [
        f"{names[20]} frames 30-32",
        f"{names[3]} frames 70-75 (not back by the end)",
    ]


def test_info_reads_units_as_forecast_does(walk_file, tmp_path):
    """``posecast info`` checks a plain-number body's size and takes ``--units`` (it had described a 1,500 m body
    that ``forecast`` refuses); a JSON document's ``"units"`` field is honoured."""
    walk = posecast.load(walk_file)
    np.save(tmp_path / "mm.npy", walk.positions * 1000.0)
    args = ["info", str(tmp_path / "mm.npy"), "--skeleton", "cmu-bvh-31", "--fps", "25", "--json"]
    r = run(*args)
    assert r.returncode == 2 and "(mm?)" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run(*args, "--units", "mm")
    assert r.returncode == 0, r.stderr
    height = json.loads(r.stdout)["height_m"]
    assert 1.0 < height < 2.2
    doc = {"format": "posecast-motion", "skeleton": "cmu-bvh-31", "fps": 25, "units": "mm",
           "positions": (walk.positions * 1000.0).round(2).tolist()}  # fmt: skip
    (tmp_path / "mm.json").write_text(json.dumps(doc))
    r = run("info", str(tmp_path / "mm.json"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["height_m"] == pytest.approx(height, abs=1e-3)


def test_forecast_writes_npz_that_round_trips(walk_file, tmp_path):
    out = tmp_path / "f.npz"
    r = run("forecast", str(walk_file), "--model", "constant-velocity", "--horizon", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    fc = posecast.load(out)
    assert isinstance(fc, posecast.Forecast) and fc.num_frames == 25 and fc.history.num_frames == 76
    r = run("forecast", str(walk_file), "--frames", "10", "--at", "2.0", "--out", str(tmp_path / "g.json"))
    assert r.returncode == 0, r.stderr
    g = posecast.load(tmp_path / "g.json")
    assert g.history.num_frames == 51 and g.ground_truth is not None
    np.testing.assert_allclose(g.ground_truth, posecast.load(walk_file).positions[51:61], atol=1e-6)


@pytest.mark.parametrize(
    ("seconds", "frames", "fps", "note"),
    [
        (0.01, 1, 25.0, "--horizon 0.01 s rounded to 1 frame = 0.04 s at 25 fps (forecasts come in whole frames)"),
        (
            0.001,
            1,
            120.0,
            "--horizon 0.001 s rounded to 1 frame = 0.008333 s at 120 fps (forecasts come in whole frames)",
        ),
        (0.1, 2, 25.0, "--horizon 0.1 s rounded to 2 frames = 0.08 s at 25 fps (forecasts come in whole frames)"),
        (0.3, 8, 25.0, None),  # 7.5 frames -> 8 (the even one), 0.32 s: half a frame and 6.7 % off
        (0.5, 12, 25.0, None),  # 12.5 frames -> 12 (the even one), 0.48 s: half a frame and 4 % off
        (0.7, 18, 25.0, None),  # 17.5 frames -> 18 (the even one), 0.72 s
        (1.0, 25, 25.0, None),
        (None, 25, 25.0, None),  # --frames: nothing was rounded
    ],
)
def test_horizon_note_when_whole_frames_change_the_horizon(seconds, frames, fps, note):
    """``frames`` is what `resolve_frames` makes of ``seconds`` (Python's round: a tie to the even number), checked
    here, so that the table holds only inputs the CLI gives `horizon_note`."""
    from posecast.cli.forecast import horizon_note
    from posecast.models.base import resolve_frames

    if seconds is not None:
        assert resolve_frames(fps, None, seconds) == frames
    assert horizon_note(seconds, frames, fps) == note


def test_forecast_says_a_horizon_under_a_frame_was_rounded_up(walk_file, tmp_path):
    r = run("forecast", str(walk_file), "--model", "zero-velocity", "--horizon", "0.01", "--out", "f.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "note: --horizon 0.01 s rounded to 1 frame = 0.04 s at 25 fps" in r.stdout, r.stdout
    assert posecast.load(tmp_path / "f.npz").num_frames == 1
    r = run("forecast", str(walk_file), "--model", "zero-velocity", "--horizon", "1", "--out", "g.npz", cwd=tmp_path)
    assert r.returncode == 0 and "note:" not in r.stdout, r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "{missing}", "--horizon", "1", "--out", "{out}"], "no such file"),
        (["forecast", "{walk}", "--horizon", "-1", "--out", "{out}"], "impossible horizon"),
        (["forecast", "{walk}", "--horizon", "1", "--frames", "3", "--out", "{out}"], "exactly one"),
        (["forecast", "{walk}", "--horizon", "1", "--model", "nope", "--out", "{out}"], "unknown model"),
        (["forecast", "{walk}", "--horizon", "1", "--out", "{bad_suffix}"], "cannot write"),
        (["forecast", "{walk}", "--horizon", "1", "--model", "nearest-neighbour", "--out", "{out}"], "--train-data"),
        (["forecast", "{garbage}", "--horizon", "1", "--out", "{out}"], "garbage.bvh"),
        (["info", "{garbage}"], "garbage.bvh"),
        (["render", "{walk}", "--out", "{out}"], "cannot write"),
        # the CLI's own usage errors too (mistyped option or command, a value that is not a number)
        (["forecast", "{walk}", "--outt", "{out}"], "No such option: --outt"),
        (["fourcast", "{walk}"], "Did you mean 'forecast'"),
        (["forecast", "{walk}", "--horizon", "abc", "--out", "{out}"], "Invalid value for '--horizon'"),
        (["forecast", "{walk}", "--model", "charpose", "--samples", "100000", "--out", "{out}"], "1 to 1000"),
        # K samples of a deterministic model would be one forecast K times (they had been written so, silently)
        (["forecast", "{walk}", "--samples", "3", "--out", "{out}"], "is deterministic: its 3 samples would be"),
        (
            ["forecast", "{walk}", "--model", "zero-velocity", "--samples", "2", "--out", "{out}"],
            "samples > 1 is for models that give several (nearest-neighbour, charpose;",
        ),
        (["forecast", "{walk}", "--out", "{out}", "--out", "/proc/x.json"], "cannot write in /proc"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(walk_file, tmp_path, args, message):
    garbage = tmp_path / "garbage.bvh"
    garbage.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    subst = {
        "missing": str(tmp_path / "missing.bvh"),
        "walk": str(walk_file),
        "out": str(tmp_path / "out.npz"),
        "bad_suffix": str(tmp_path / "out.xyz"),
        "garbage": str(garbage),
    }
    r = run(*[a.format(**subst) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out.npz").exists()


def test_an_output_that_is_the_input_or_given_twice_is_refused_before_any_work(walk_file, tmp_path):
    import shutil

    mine = tmp_path / "mine.bvh"
    shutil.copy(walk_file, mine)
    before = mine.read_bytes()
    for args, message in (
        (["forecast", str(mine), "--horizon", "1", "--out", str(tmp_path / "." / "mine.bvh")], "is the input file"),
        (["render", str(mine), "--out", str(tmp_path / "x.gif"), "--out", str(tmp_path / "x.gif")], "given twice"),
        (["forecast", str(mine), "--out", str(tmp_path / "f.npz"), "--out", str(tmp_path / "d.json")], "directory"),
    ):
        (tmp_path / "d.json").mkdir(exist_ok=True)  # an output path that is an existing directory
        r = run(*args)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert mine.read_bytes() == before and not (tmp_path / "x.gif").exists() and not (tmp_path / "f.npz").exists()


def test_a_model_error_about_the_input_names_the_file(walk_file, tmp_path):
    walk = posecast.load(walk_file)
    one = posecast.save(posecast.Motion(walk.positions[:1], walk.fps, walk.skeleton), tmp_path / "one.npz")
    r = run("forecast", str(one), "--horizon", "1", "--out", str(tmp_path / "f.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"{one}: " in r.stderr and "at least 2 observed frames" in r.stderr
    assert not (tmp_path / "f.json").exists()


def test_bench_cmu_mocap_json(cmu_mocap_dir, tmp_path):
    out = tmp_path / "zv.json"
    r = run(
        "bench",
        "cmu-mocap",
        "--model",
        "zero-velocity",
        "--protocol",
        "ltd8",
        "--json",
        str(out),
        env_extra={"POSECAST_DATA": str(cmu_mocap_dir.parent)},
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert set(d) >= {"protocol", "actions", "average"}
    assert d["actions"]["walking"]["80"] == pytest.approx(20.73, abs=0.005)
    assert "RandomState(1234567890)" in r.stdout and "38 joints" in r.stdout


def test_bench_without_data_is_a_clear_error(tmp_path):
    r = run("bench", "cmu-mocap", env_extra={"POSECAST_DATA": str(tmp_path / "nowhere")})
    assert r.returncode == 2 and "POSECAST_DATA" in r.stderr


def test_demo_without_data_uses_the_labelled_synthetic_walk(tmp_path):
    r = run("demo", "--out-dir", str(tmp_path / "demo"), env_extra={"POSECAST_DATA": str(tmp_path / "nowhere")})
    assert r.returncode == 0, r.stderr
    assert "SYNTHETIC" in r.stdout
    for name in ("forecast.mp4", "forecast.html", "forecast.npz"):
        assert (tmp_path / "demo" / name).stat().st_size > 1000
    fc = posecast.load(tmp_path / "demo" / "forecast.npz")
    assert fc.num_frames == 25 and fc.ground_truth is not None


def test_every_command_has_working_help():
    # help texts go through rich markup: a stray "[...]" in an option's help crashes --help
    from typer.main import get_command
    from typer.testing import CliRunner

    from posecast.cli.app import app

    root = get_command(app)
    paths = []
    for name, cmd in root.commands.items():
        paths.append([name])
        paths += [[name, sub] for sub in getattr(cmd, "commands", {})]  # groups: bench ...
    assert ["train"] in paths and len(paths) > 10
    runner = CliRunner()
    for path in paths:
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, f"posecast {' '.join(path)} --help: {r.exception!r}"


@pytest.mark.parametrize("option", [["--lr", "-1"], ["--batch-size", "0"]])
def test_train_refuses_an_impossible_setting_in_one_line(option, tmp_path) -> None:
    out = tmp_path / "run"
    r = run("train", "--model", "dct-mlp", "--out", str(out), "--stop-step", "1", *option)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and option[0].lstrip("-").replace("-", "_") in r.stderr
    # the value came from the flag, not from the (default) config file: the message says so
    assert "given on the command line" in r.stderr and ".yaml" not in r.stderr
    assert not out.exists()


def test_train_names_the_config_file_where_the_bad_value_is(tmp_path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model: dct-mlp\nnet: dct-mlp\nlr: -2\nbogus: 1\n")
    r = run("train", "--model", "dct-mlp", "--config", str(config), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = [x for x in r.stderr.splitlines() if x.strip()][-1]
    assert str(config) in line and "lr = -2: " in line and "bogus = 1: " in line and "command line" not in line


def test_train_refuses_lifted_root_without_a_lifter(tmp_path) -> None:
    out = tmp_path / "run"
    r = run("train", "--model", "dct-mlp", "--out", str(out), "--stop-step", "1", "--set", "lifted_root=true")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "lifted_root" in r.stderr and "lifted_history" in r.stderr
    assert not out.exists()


def test_run_and_output_directories_are_checked_before_any_work(tmp_path, monkeypatch):
    afile = tmp_path / "f.npz"
    afile.write_bytes(b"x")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("POSECAST_DATA", str(data))
    cases = (
        (["train", "--model", "dct-mlp", "--out", str(afile), "--epochs", "1"], "is a file; give a directory"),
        (["train", "--model", "dct-mlp", "--out", str(data / "run"), "--epochs", "1"], "inside the shared data"),
        (["train", "--model", "dct-mlp", "--out", "/proc/nope/run", "--epochs", "1"], "cannot be made or written"),
        (["train", "--model", "dct-mlp", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
         "no such folder of motion files"),
        (["demo", "--out-dir", str(afile)], "is a file; give a directory"),
    )  # fmt: skip
    for args, message in cases:
        r = subprocess.run([sys.executable, "-m", "posecast", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (data / "run").exists() and not (tmp_path / "r").exists()


def test_render_reads_files_as_forecast_does(tmp_path):
    """`posecast render` takes --units (and --asf) and checks a plain-number file's body size, as `forecast` and
    `info` do: a .npy in millimetres is refused asking for the unit, then drawn with --units mm."""
    walk = synthetic_walk(seconds=1.0, fps=25.0)
    np.save(tmp_path / "mm.npy", walk.positions * 1000.0)
    out = tmp_path / "mm.html"
    base = ["render", str(tmp_path / "mm.npy"), "--skeleton", walk.skeleton.name, "--fps", "25", "--out", str(out)]
    refused = run(*base)
    assert refused.returncode == 2 and "positions must be metres (mm?)" in refused.stderr and not out.exists()
    assert "Traceback" not in refused.stderr
    done = run(*base, "--units", "mm")
    assert done.returncode == 0, done.stderr
    assert out.exists() and out.stat().st_size > 1000


def test_forecast_help_for_out_names_every_output_and_the_compressed_ones():
    """QA: the --out help listed neither .npz.gz / .json.gz / .bvh.gz (which work) nor that .png is for key-pose
    models only. Every suffix `check_outputs` takes is in the help, each compressible one with .gz."""
    from posecast.cli.forecast import COMPRESSIBLE, OUTPUTS

    r = run("forecast", "--help", env_extra={"COLUMNS": "2000"})
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "--out" in ln)
    for kind, (outputs, _) in OUTPUTS.items():
        for suffix in outputs:
            assert f"{suffix} " in line or f"{suffix})" in line or f"{suffix};" in line, (kind, suffix, line)
        for suffix in COMPRESSIBLE[kind]:
            assert f"{suffix}.gz" in line, (kind, suffix, line)
    assert ".png only for them" in line


def test_version_option_prints_the_package_version():
    """QA (the installed wheel): ``posecast --version`` was "No such option"."""
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == posecast.__version__, r.stderr


def test_a_data_error_is_one_line_and_nothing_else(tmp_path):
    """QA: a transient progress bar closing on a pipe left an empty line before the error (on stdout for
    ``corpus build``, on stderr for the benchmarks)."""
    for args in (("corpus", "build"), ("bench", "cmu-mocap", "--model", "zero-velocity")):
        r = run(*args, env_extra={"POSECAST_DATA": str(tmp_path / "none")})
        assert r.returncode == 2 and r.stdout == "", (args, r.stdout)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (args, r.stderr)


def test_info_counts_long_metadata_entries_and_json_keeps_them(tmp_path):
    """QA: ``posecast info`` on a BVH printed 2.4 KB of per-joint channel strings; the text view counts long tables,
    ``--json`` keeps them whole."""
    from posecast.cli.files import short_value
    from posecast.synthetic import synthetic_walk

    assert short_value({"a": 1}) == {"a": 1} and short_value("x" * 500) == "x" * 500
    assert short_value({f"joint{i}": "Zrotation Yrotation Xrotation" for i in range(31)}) == "<31 entries>"
    path = posecast.save(synthetic_walk(seconds=1.0, fps=25.0), tmp_path / "walk.bvh")
    r = run("info", str(path))
    assert r.returncode == 0 and "'bvh_joint_channels': '<31 entries>'" in r.stdout and "--json prints them" in r.stdout
    d = json.loads(run("info", str(path), "--json").stdout)
    assert len(d["metadata"]["bvh_joint_channels"]) == 31
