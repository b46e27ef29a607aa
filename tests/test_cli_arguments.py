"""Bad arguments of every command, as a QA sweep found them (516 invocations): each is one line on stderr naming
the option and the problem, exit code 2, no traceback, and no file written or overwritten. Every case here had
ended in a traceback, clobbered a file, or been taken and ignored (in-process through the console entry point, the
`cli` fixture; every case is refused before any model loads or any data is read)."""

from __future__ import annotations

from pathlib import Path

import pytest

import posecast
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def motion_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("args") / "walk.csv"
    posecast.save(synthetic_walk(seconds=2.0, fps=25.0), path)
    return path


CASES = [
    # train: numbers numpy and torch refuse with a traceback, or a negative limit that trained anyway
    (["train", "--model", "dct-mlp", "--out", "{tmp}/run", "--seed", "-1"], "--seed must be from 0"),
    (["train", "--model", "charpose", "--out", "{tmp}/run", "--seed", "99999999999"], "--seed must be from 0"),
    (["train", "--model", "dct-mlp", "--out", "{tmp}/run", "--threads", "-1"], "--threads must be positive"),
    (["train", "--model", "dct-mlp", "--out", "{tmp}/run", "--max-minutes", "-1"], "--max-minutes must be zero"),
    (["train", "--model", "dct-mlp", "--out", "{tmp}/run", "--config", "{tmp}/x.png"], "cannot read config"),
    (["train", "--model", "dct-mlp", "--out", "{tmp}/run", "--data", ""], "--data is empty"),
    # serve: checked before anything binds
    (["serve", "--port", "70000"], "--port must be from 1 to 65535"),
    (["serve", "--host", "0.0.0.0", "--token", ""], "--token is empty"),
    (["serve", "--log-level", "foo"], "--log-level must be one of"),
    (["serve", "--max-seconds", "inf"], "--max-seconds must be a positive number"),
    (["serve", "--idle", "nan"], "--idle must be a positive number"),
    (["serve", "--ssl-certfile", "{motion}", "--ssl-keyfile", "{motion}"], "cannot use --ssl-certfile"),
    # bench keyposes: seeds, unknown models, values that started a long run
    (["bench", "keyposes", "--seed", "-1"], "--seed must be from 0"),
    (["bench", "keyposes", "--model", "foo"], "unknown model 'foo'"),
    (["bench", "keyposes", "--temperature", "0"], "--temperature must be a positive number"),
    (["bench", "keyposes", "--samples", "100000000"], "--samples must be at most"),
    (["bench", "keyposes", "--max-keys", "0"], "--max-keys must be at least 1"),
    (["bench", "keyposes", "--protocol", "cmu-bvh", "--split", "validation"], "--split: corpus protocol options"),
    # outputs that are an input, or each other
    (["bench", "files", "{motion}", "--model", "zero-velocity", "--json", "{motion}"], "this output is an input file"),
    (["bench", "detector-noise", "--json", "{tmp}/x.md", "--markdown", "{tmp}/x.md"], "given as two outputs"),
    (["bench", "cmu-bvh", "--models", ""], "names no model"),
    (["bench", "long-horizon", "--model", "zero-velocity", "--goal-model", "foo"], "--goal-model 'foo' is not among"),
    # keyposes: a window far longer than the motion ran for ever
    (["keyposes", "{motion}", "--out", "{tmp}/k.json", "--reference", "1e5"], "--reference 100000: give seconds"),
    (["keyposes", "{motion}", "--out", "{tmp}/k.json", "--smoothing", "-1"], "--smoothing -1: give seconds"),
    # corpus
    (["corpus", "build", "--workers", "0"], "--workers must be positive"),
    (["corpus", "unpack", "{tmp}", "{tmp}/out.npz"], "is a directory"),
    # weights named by a path that is a file, or by nothing
    (["forecast", "{motion}", "--out", "{tmp}/f.npz", "--weights", "{motion}"], "is a file, not a weights folder"),
    (["forecast", "{motion}", "--out", "{tmp}/f.npz", "--weights", ""], "no weights named"),
    # an fps that is no frame rate, taken and ignored for a forecast file
    (["info", "{tmp}/fc.npz", "--fps", "-1"], "give a positive frame rate"),
]


@pytest.mark.parametrize(
    ("args", "expected"), CASES, ids=[" ".join(a[:3]) + f" [{i}]" for i, (a, _) in enumerate(CASES)]
)
def test_bad_arguments_are_one_line_exit_2_and_nothing_written(cli, tmp_path, motion_file, args, expected):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    posecast.save(posecast.forecast(motion_file, model="zero-velocity", seconds=0.2), tmp_path / "fc.npz")
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} | {motion_file: motion_file.read_bytes()}
    filled = [a.format(tmp=tmp_path, motion=motion_file) for a in args]
    code, out, err = cli(*filled)
    assert code == 2, (code, out[-500:], err[-500:])
    assert expected in err and "Traceback" not in err + out, err
    assert len(err.strip().splitlines()) == 1, err
    after = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} | {motion_file: motion_file.read_bytes()}
    assert after == before  # nothing written, nothing overwritten
    assert not (tmp_path / "run").exists()


def test_a_video_refuses_the_motion_file_options(cli, tmp_path):
    """QA: ``--fps``, ``--mapping`` and ``--train-data`` were taken for a video and silently not used (``--units``
    and ``--up`` were refused)."""
    from posecast.datasets.paths import dataset_dir

    clips = dataset_dir("video", required=False)
    if clips is None or not any(clips.glob("*.mp4")):
        pytest.skip("real data 'video' not available: set POSECAST_DATA to the shared data root")
    clip = sorted(clips.glob("*.mp4"))[0]
    code, _, err = cli("forecast", str(clip), "--out", str(tmp_path / "v.npz"), "--fps", "30")
    assert code == 2 and "--fps applies to motion files" in err
    code, _, err = cli("forecast", str(clip), "--out", str(tmp_path / "v.npz"), "--mapping", "m.yaml", "--fps", "30")
    assert code == 2 and "--fps, --mapping apply to motion files" in err
    assert not (tmp_path / "v.npz").exists()
