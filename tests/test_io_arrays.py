"""Plain array formats and the load/save entry point."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import posecast
from posecast.errors import FormatError, PosecastError, SkeletonError, ValueRangeError
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk():
    return synthetic_walk(seconds=1.0, fps=20.0)


@pytest.mark.parametrize("suffix", [".npz", ".json", ".csv"])
def test_motion_round_trip(tmp_path, walk, suffix):
    path = posecast.save(walk, tmp_path / f"walk{suffix}")
    back = posecast.load(path)
    assert back.skeleton.same_layout(walk.skeleton) and back.fps == walk.fps
    np.testing.assert_allclose(back.positions, walk.positions, atol=1e-6)
    if suffix != ".csv":
        np.testing.assert_allclose(back.rotations, walk.rotations, atol=1e-8)


def test_npy_needs_skeleton_and_fps(tmp_path, walk):
    path = posecast.save(walk, tmp_path / "walk.npy")
    with pytest.raises(FormatError, match="pass skeleton= and fps="):
        posecast.load(path)
    back = posecast.load(path, skeleton="cmu-bvh-31", fps=20)
    np.testing.assert_array_equal(back.positions, walk.positions)
    np.save(tmp_path / "flat.npy", walk.positions.reshape(walk.num_frames, -1))
    assert posecast.load(tmp_path / "flat.npy", skeleton="cmu-bvh-31", fps=20).num_joints == 31
    with pytest.raises(FormatError, match="does not fit skeleton"):
        posecast.load(path, skeleton="cmu-mocap-38", fps=20)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_forecast_round_trip(tmp_path, walk, suffix):
    fc = posecast.models.get("constant-velocity").forecast(
        walk.frames(0, 10), frames=5, ground_truth=walk.positions[10:15]
    )
    back = posecast.load(posecast.save(fc, tmp_path / f"fc{suffix}"))
    assert isinstance(back, posecast.Forecast)
    assert back.model == "constant-velocity" and back.horizon == pytest.approx(0.25)
    np.testing.assert_allclose(back.samples, fc.samples, atol=1e-6)
    np.testing.assert_allclose(back.ground_truth, fc.ground_truth, atol=1e-6)
    np.testing.assert_allclose(back.history.positions, walk.positions[:10], atol=1e-6)
    if suffix == ".json":
        d = json.loads((tmp_path / "fc.json").read_text())
        assert d["format"] == "posecast-forecast" and d["horizon"] == pytest.approx(0.25)
        assert d["skeleton"]["name"] == "cmu-bvh-31" and d["fps"] == 20.0


def test_custom_skeleton_survives_a_round_trip(tmp_path):
    skel = posecast.Skeleton(
        "my-arm", ("shoulder", "elbow", "wrist"), (-1, 0, 1), offsets=[[0, 0, 0], [0.3, 0, 0], [0.25, 0, 0]]
    )
    m = posecast.Motion(np.random.default_rng(0).normal(size=(4, 3, 3)), 30, skel)
    for suffix in (".npz", ".json", ".csv"):  # .csv stores it on a '# skeleton-json' line
        back = posecast.load(posecast.save(m, tmp_path / f"arm{suffix}"))
        assert back.skeleton.name == "my-arm" and back.skeleton.parents == (-1, 0, 1), suffix
        np.testing.assert_allclose(back.skeleton.offsets, skel.offsets)
        np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)
    text = (tmp_path / "arm.csv").read_text()
    assert text.count("# skeleton-json ") == 1
    # a registered skeleton is stored by name only
    walk = posecast.Motion(np.zeros((2, 31, 3)), 30, posecast.skeletons.get("cmu-bvh-31"))
    assert "skeleton-json" not in posecast.save(walk, tmp_path / "walk.csv").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace('"parents": [', '"parents": [7, '))
    with pytest.raises(PosecastError, match="skeleton-json") as info:
        posecast.load(bad)
    assert str(bad) in str(info.value)


def test_npz_files_with_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, positions=np.array([object()], dtype=object), fps=30, skeleton="cmu-bvh-31")
    with pytest.raises(FormatError, match="pickle"):
        posecast.load(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.json", "{not json", "invalid JSON"),
        ("x.json", json.dumps({"format": "other"}), "not a motion or forecast"),
        ("x.json", json.dumps({"format": "other", "positions": [[[0, 0, 0]]]}), "not a motion or forecast"),
        ("x.json", json.dumps({"skeleton": "cmu-bvh-31", "fps": 30}), "not a motion or forecast"),  # no positions
        ("x.json", json.dumps([[[0, 0, 0]]]), "not a motion or forecast"),
        ("x.json", json.dumps({"fps": 30, "positions": np.zeros((2, 31, 3)).tolist()}), 'no skeleton: add a "skel'),
        ("x.json", json.dumps({"skeleton": "cmu-bvh-31", "positions": np.zeros((2, 31, 3)).tolist()}), "no fps"),
        ("x.json", json.dumps({"skeleton": "nope", "fps": 3, "positions": [[[0, 0, 0]]]}), "unknown skeleton"),
        ("x.json", json.dumps({"skeleton": "h36m-17", "fps": 3, "positions": "abc"}), "not a regular array"),
        ("x.json", json.dumps({"skeleton": "h36m-17", "fps": 3, "positions": np.zeros((2, 31, 3)).tolist()}), "17"),
        (
            "x.json",
            json.dumps({"format": "posecast-motion", "skeleton": "nope", "fps": 3, "positions": [[[0, 0, 0]]]}),
            "unknown skeleton",
        ),
        (
            "x.json",
            json.dumps(
                {
                    "format": "posecast-motion",
                    "skeleton": "cmu-bvh-31",
                    "fps": -3,
                    "positions": np.zeros((2, 31, 3)).tolist(),
                }
            ),
            "frame rate",
        ),
        (
            "x.json",  # JSON true is not a frame rate (Python counts it as the number 1)
            json.dumps(
                {
                    "format": "posecast-motion",
                    "skeleton": "cmu-bvh-31",
                    "fps": True,
                    "positions": np.zeros((2, 31, 3)).tolist(),
                }
            ),
            "non-numeric field 'fps'",
        ),
        ("x.csv", "# skeleton=cmu-bvh-31 fps=30\nframe,a_x\n1,2\n", "header"),
        ("x.xyz", "hello", "unrecognised file format"),
        ("x.bin", "", "empty"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PosecastError, match=message) as info:
        posecast.load(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        posecast.load(tmp_path / "none.bvh")
    with pytest.raises(FormatError, match="directory"):
        posecast.load(tmp_path)


def test_failed_save_leaves_nothing_behind(tmp_path, walk):
    target = tmp_path / "walk.txt"  # cmu-expmap writer refuses a cmu-bvh-31 motion
    with pytest.raises(FormatError):
        posecast.save(walk, target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FormatError, match="cannot write"):
        posecast.save(walk, tmp_path / "walk.xyz")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.just(31), st.just(3)),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    ),
    st.floats(1.0, 240.0),
)
def test_npz_json_csv_round_trip_property(tmp_path, positions, fps):
    m = posecast.Motion(positions, fps, "cmu-bvh-31")
    for suffix, tol in ((".npz", 0.0), (".json", 0.0), (".csv", 1e-6)):  # a motion's JSON is exact
        back = posecast.load(posecast.save(m, tmp_path / f"p{suffix}"))
        np.testing.assert_allclose(back.positions, positions, atol=tol)
        assert back.fps == pytest.approx(fps, rel=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([".npz", ".npy", ".json", ".csv"]))
def test_garbage_is_always_a_posecast_error(tmp_path, blob, suffix):
    path = tmp_path / f"g{suffix}"
    path.write_bytes(blob)
    try:
        posecast.load(path, skeleton="cmu-bvh-31", fps=30)
    except PosecastError:
        pass


def test_truncated_npz_is_a_clear_error(tmp_path, walk):
    good = posecast.save(walk, tmp_path / "w.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(PosecastError):
        posecast.load(bad)
    with zipfile.ZipFile(tmp_path / "nokeys.npz", "w") as z:
        z.writestr("other.npy", b"")
    with pytest.raises((FormatError, SkeletonError)):
        posecast.load(tmp_path / "nokeys.npz")


def test_complex_arrays_and_short_csv_rows_are_named(tmp_path, walk):
    z = tmp_path / "z.npy"
    np.save(z, walk.positions.astype(np.complex128))
    with pytest.raises(PosecastError, match="complex128; positions are real numbers"):
        posecast.load(z, skeleton=walk.skeleton.name, fps=walk.fps)
    good = posecast.save(walk, tmp_path / "w.csv").read_text().splitlines()
    good[4] = ",".join(good[4].split(",")[:5])  # the third frame row cut short
    bad = tmp_path / "short.csv"
    bad.write_text("\n".join(good) + "\n")
    with pytest.raises(PosecastError, match=r"frame row 3 has 5 values; the header has \d+ columns") as info:
        posecast.load(bad)
    assert str(bad) in str(info.value)


def test_key_pose_documents_load_as_forecasts_of_one_frame_per_hypothesis(tmp_path):
    """What ``posecast forecast --model charpose --out k.json|k.npz`` writes loads back (for ``posecast render`` and
    ``info``): K one-frame samples with their probabilities, the observed window as the history."""
    rng = np.random.default_rng(0)
    names, parents = ["hips", "spine", "head"], [-1, 0, 1]
    observed, hyp = rng.normal(size=(10, 3, 3)), rng.normal(size=(4, 3, 3))
    probs = [0.4, 0.3, 0.2, 0.1]
    doc = {"skeleton": "my-rig", "joint_names": names, "parents": parents, "fps": 25.0, "model": "charpose"}
    doc["observed"] = observed.tolist()
    doc["hypotheses"] = [{"probability": p, "positions": h.tolist()} for p, h in zip(probs, hyp, strict=True)]
    (tmp_path / "k.json").write_text(json.dumps(doc))
    np.savez(
        tmp_path / "k.npz",
        hypotheses=hyp,
        observed=observed,
        probabilities=np.array(probs),
        joint_names=np.array(names),
        parents=np.array(parents),
        skeleton=np.array("my-rig"),
        fps=np.array(25.0),
    )
    for name in ("k.json", "k.npz"):
        fc = posecast.load(tmp_path / name)
        assert fc.samples.shape == (4, 1, 3, 3) and fc.skeleton.parents == (-1, 0, 1), name
        np.testing.assert_allclose(fc.samples[:, 0], hyp)
        np.testing.assert_allclose(fc.probabilities, probs)
        np.testing.assert_allclose(fc.history.positions, observed)
    doc["hypotheses"] = [{"probability": 1.0, "positions": [[0.0, 0.0]]}]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(PosecastError, match="key-pose"):
        posecast.load(tmp_path / "bad.json")


def test_plain_arrays_in_millimetres_are_refused_with_the_unit_to_give_and_read_with_it(tmp_path):
    import subprocess
    import sys

    from posecast.api import load_motion
    from posecast.errors import ValueRangeError as VRE
    from posecast.skeletons.canonical import retarget
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    metres = retarget(walk.skeleton).to_canonical(walk.positions)  # (50, 22, 3)
    mm = tmp_path / "walk_mm.npy"
    np.save(mm, metres * 1000.0)
    with pytest.raises(VRE, match=r"walk_mm\.npy: a body spanning 1\d\d\d m: positions must be metres \(mm\?\)"):
        load_motion(mm, skeleton="smplh-22", fps=25.0)
    told = load_motion(mm, "smplh-22", 25.0, units="mm")
    np.testing.assert_allclose(told.positions, metres, atol=1e-9)
    np.testing.assert_allclose(told.skeleton.offsets, posecast.skeletons.get("smplh-22").offsets)  # metres kept
    np.testing.assert_allclose(load_motion(mm, "smplh-22", 25.0, units=0.001).positions, metres, atol=1e-9)
    far = tmp_path / "far_mm.npy"  # 150 m from the origin, in mm: the 100 km bound is checked in metres
    np.save(far, (metres + [150.0, 0.0, 0.0]) * 1000.0)
    assert load_motion(far, "smplh-22", 25.0, units="mm").positions[0, 0, 0] > 149.0
    tiny = tmp_path / "walk_km.npy"
    np.save(tiny, metres / 1000.0)
    with pytest.raises(VRE, match="give their unit"):
        load_motion(tiny, skeleton="smplh-22", fps=25.0)
    csv = tmp_path / "walk.csv"
    posecast.save(posecast.Motion(metres * 100.0, 25.0, "smplh-22"), csv)  # written in metres: 'units=m'
    with pytest.raises(posecast.PosecastError, match="header declares units=m"):
        load_motion(csv, units="cm")  # the file says its unit: not given twice
    npz = tmp_path / "walk.npz"  # PoseCast's own files are metres by definition
    posecast.save(posecast.Motion(metres, 25.0, "smplh-22"), npz)
    with pytest.raises(VRE, match="a npz file is read as it is"):
        load_motion(npz, units="mm")
    out = tmp_path / "f.npz"
    args = [sys.executable, "-m", "posecast", "forecast", str(mm), "--skeleton", "smplh-22", "--fps", "25"]
    r = subprocess.run([*args, "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "(mm?)" in r.stderr and "Traceback" not in r.stderr and not out.exists()
    r = subprocess.run([*args, "--units", "mm", "--horizon", "0.4", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert posecast.load(out).history.positions.max() < 3.0  # metres


def test_a_saved_motion_names_itself_in_errors_and_keeps_where_it_came_from(tmp_path):
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=1.0, fps=30.0)
    clip = tmp_path / "walk.bvh"
    posecast.save(walk, clip)
    made = posecast.load(clip)
    for suffix in (".npz", ".json"):
        out = tmp_path / f"walk{suffix}"
        posecast.save(made, out)
        back = posecast.load(out)
        assert back.metadata["source"] == str(out) and back.metadata["made_from"] == str(clip), suffix
        again = tmp_path / f"again{suffix}"  # saved once more: still made from the clip
        assert posecast.load(posecast.save(back, again)).metadata["made_from"] == str(clip), suffix
    with np.load(tmp_path / "walk.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["positions"][5, 3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(PosecastError, match=r"nan\.npz: positions contain NaN") as info:
        posecast.load(tmp_path / "nan.npz")
    assert "walk.bvh" not in str(info.value)  # not the file it was made from, which is fine


def test_a_csv_time_column_sets_the_rate_and_its_gaps_are_bridged_on_the_frame_grid(tmp_path):
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=30.0)
    lines = posecast.save(walk, tmp_path / "w.csv").read_text().splitlines()
    head, rows = lines[:2], lines[2:]  # '# skeleton=... fps=...' (+ no skeleton-json: registered) and the header
    assert head[1].startswith("time,") and len(rows) == walk.num_frames
    # no '# fps=' line: the rate comes from the time column
    no_fps = tmp_path / "no_fps.csv"
    no_fps.write_text("\n".join([f"# skeleton={walk.skeleton.name}", head[1], *rows]) + "\n")
    back = posecast.load(no_fps)
    assert back.fps == pytest.approx(walk.fps, rel=1e-6) and "bridged_gaps_s" not in back.metadata
    np.testing.assert_allclose(back.positions, walk.positions, atol=1e-6)
    # 5 rows missing (a tracker's dropped frames): back on the grid, the missing frames a straight line between
    holed = tmp_path / "holed.csv"
    holed.write_text("\n".join([*head, *rows[:20], *rows[25:]]) + "\n")
    back = posecast.load(holed)
    assert back.num_frames == walk.num_frames and back.metadata["bridged_gaps_s"] == [pytest.approx(6 / walk.fps)]
    tol = 1e-5  # the stamps are written to the microsecond: a frame's time is off its grid point by up to 0.5 us
    np.testing.assert_allclose(back.positions[:20], walk.positions[:20], atol=tol)
    np.testing.assert_allclose(back.positions[25:], walk.positions[25:], atol=tol)
    w = (np.arange(20, 25) - 19)[:, None, None] / 6
    np.testing.assert_allclose(back.positions[20:25], (1 - w) * walk.positions[19] + w * walk.positions[25], atol=tol)
    # times in milliseconds against the declared fps; a gap of over a second; an empty cell: named
    ms = tmp_path / "ms.csv"
    ms.write_text("\n".join([*head, *[f"{1000 * float(r.split(',')[0]):.3f}," + r.split(",", 1)[1] for r in rows]]))
    with pytest.raises(FormatError, match=r"time column steps by 33\.3.* but fps is 30: times must be seconds"):
        posecast.load(ms)
    ms.write_text("\n".join([f"# skeleton={walk.skeleton.name}", *ms.read_text().splitlines()[1:]]))  # no fps
    with pytest.raises(FormatError, match=r"time column steps by 33\.3.* \(median\): times must be seconds"):
        posecast.load(ms)
    late = [f"{float(r.split(',')[0]) + 2.0 * (k >= 40):.6f}," + r.split(",", 1)[1] for k, r in enumerate(rows)]
    gap = tmp_path / "gap.csv"
    gap.write_text("\n".join([*head, *late]))
    with pytest.raises(FormatError, match=r"frame rows 40 and 41 are 2\.03 s apart .* split the file there"):
        posecast.load(gap)
    cells = rows[6].split(",")
    cells[7] = ""
    empty = tmp_path / "empty.csv"
    empty.write_text("\n".join([*head, *rows[:6], ",".join(cells), *rows[7:]]))
    name = head[1].split(",")[7]
    with pytest.raises(FormatError, match=rf"frame row 7, column {name}: '' is not a number \(an empty cell is a gap"):
        posecast.load(empty)


def test_csv_with_quoted_cells_reads_as_the_plain_table(tmp_path):
    """numpy's parser reads plain tables; quoted cells (spreadsheet exports) fall back to the row-by-row reader,
    with the same numbers."""
    m = posecast.Motion(np.random.default_rng(3).normal(size=(6, 31, 3)), 30.0, "cmu-bvh-31")
    plain = tmp_path / "plain.csv"
    posecast.save(m, plain)
    lines = plain.read_text().splitlines()
    quoted = [ln if ln.startswith("#") or ln.startswith("time") or ln[:1].isalpha() else
              ",".join(f'"{c}"' for c in ln.split(",")) for ln in lines]  # fmt: skip
    (tmp_path / "quoted.csv").write_text("\n".join(quoted) + "\n")
    a, b = posecast.load(plain), posecast.load(tmp_path / "quoted.csv")
    assert '"' in (tmp_path / "quoted.csv").read_text()
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.fps == b.fps == 30.0


def test_csv_times_rounded_or_jittered_read_at_their_rate_and_rows_stay_as_recorded(tmp_path):
    """Stamps written to the millisecond (0.033, 0.067, ...) are 30 fps, not 30.3 (a median of rounded steps); with
    2 ms of jitter and a dropped row too, each row near its frame is that frame as recorded (not blended with its
    neighbours), so a joint a tracker put at the origin in one row is still found lost."""
    from posecast.motion import tracking_glitches

    walk = synthetic_walk(seconds=7.0, fps=30.0)
    n = walk.num_frames
    rng = np.random.default_rng(5)

    def write(name: str, times: np.ndarray, pos: np.ndarray) -> posecast.Motion:
        cols = [f"{j}_{a}" for j in walk.skeleton.joint_names for a in "xyz"]
        rows = [f"{t:.3f}," + ",".join(f"{v:.6f}" for v in p.ravel()) for t, p in zip(times, pos, strict=True)]
        (tmp_path / name).write_text(f"# skeleton={walk.skeleton.name}\ntime,{','.join(cols)}\n" + "\n".join(rows))
        return posecast.load(tmp_path / name)

    exact = write("ms.csv", np.arange(n) / 30.0, walk.positions)
    assert exact.fps == 30.0 and exact.num_frames == n
    pos = walk.positions.copy()
    hand = walk.skeleton.index("LeftHand")
    pos[100, hand] = 0.0  # one row with the hand at the origin
    keep = np.delete(np.arange(n), 150)  # a dropped row
    times = keep / 30.0 + rng.uniform(-0.002, 0.002, size=keep.size)
    jittered = write("jitter.csv", times, pos[keep])
    assert jittered.fps == 30.0 and jittered.num_frames == n
    np.testing.assert_array_equal(jittered.positions[100, hand], 0.0)  # the row as recorded
    lost = tracking_glitches(jittered.positions, jittered.fps, walk.skeleton.parents)
    assert [(g.joint, g.first, g.last) for g in lost] == [(hand, 100, 100)]


def test_a_csv_rig_listed_in_any_joint_order_is_read(tmp_path):
    """A '# skeleton-json' rig with a joint before its parent (a Kinect SDK's order, as `posecast serve` takes it):
    its columns are read in that order and the motion comes back parents first, every joint's track by name."""
    names = ["Head", "Neck", "SpineBase", "HandLeft", "ShoulderLeft"]  # Head before Neck before SpineBase ...
    parents = [1, 2, -1, 4, 1]
    rng = np.random.default_rng(2)
    pos = rng.normal(size=(5, 5, 3)) * 0.05 + np.array([[0, 1.7, 0], [0, 1.5, 0], [0, 1.0, 0], [0.5, 1.2, 0],
                                                        [0.2, 1.45, 0]])  # fmt: skip
    skel_json = json.dumps({"name": "kinect-like", "joint_names": names, "parents": parents})
    cols = ",".join(f"{n}_{a}" for n in names for a in "xyz")
    rows = "\n".join(",".join(f"{v:.6f}" for v in p.ravel()) for p in pos)
    path = tmp_path / "k.csv"
    path.write_text(f"# fps=30\n# skeleton-json {skel_json}\n{cols}\n{rows}\n")
    m = posecast.load(path)
    assert m.skeleton.joint_names[0] == "SpineBase" and set(m.skeleton.joint_names) == set(names)
    for j, n in enumerate(names):
        np.testing.assert_allclose(m.positions[:, m.skeleton.index(n)], pos[:, j], atol=1e-6)


def test_csv_time_columns_of_two_rates_a_doubled_row_a_bom_and_spaced_headers(tmp_path):
    """Steps of two rates (60 and 10 Hz) give a rate and a grid instead of a crash (no step was near the median);
    of two rows near one frame the nearer is that frame; a byte-order mark and spaces after the header's commas are
    read."""
    names = ["root", "tip"]

    def csv(times, values, head="time,root_x,root_y,root_z,tip_x,tip_y,tip_z", bom=""):
        skel = json.dumps({"name": "stick", "joint_names": names, "parents": [-1, 0]})
        rows = "\n".join(f"{t:.4f}," + ",".join(f"{v:.4f}" for v in (0, 1, 0, 0, 1.5 + x, 0))
                         for t, x in zip(times, values, strict=True))  # fmt: skip
        path = tmp_path / f"c{len(list(tmp_path.iterdir()))}.csv"
        path.write_text(f"{bom}# skeleton-json {skel}\n{head}\n{rows}\n", encoding="utf-8")
        return posecast.load(path)

    two = csv([0, 1 / 60, 2 / 60, 2 / 60 + 0.1, 2 / 60 + 0.2], [0, 0.1, 0.2, 0.3, 0.4])
    assert np.isfinite(two.fps) and two.num_frames >= 5
    times = list(np.arange(10) / 30.0)
    times.insert(2, 1 / 30 + 0.004)  # a second row 4 ms after frame 1
    values = list(np.arange(10) * 0.01)
    values.insert(2, 0.5)
    doubled = csv(times, values)
    assert doubled.fps == 30.0 and doubled.num_frames == 10
    assert doubled.positions[1, 1, 1] == pytest.approx(1.51)  # the row on frame 1, not the one 4 ms after it
    head = "time, root_x, root_y, root_z, tip_x, tip_y, tip_z"
    spaced = csv(np.arange(5) / 30.0, np.zeros(5), head=head, bom="\ufeff")
    assert spaced.skeleton.joint_names == ("root", "tip") and spaced.fps == 30.0


# ----------------------------------------------------------------------------------- JSON units
def _json_doc(positions: np.ndarray, **fields) -> dict:
    return {"format": "posecast-motion", "skeleton": "h36m-17", "fps": 25, "positions": positions.tolist(), **fields}


@pytest.mark.parametrize(
    ("units", "factor"), [("m", 1.0), ("cm", 0.01), ("mm", 0.001), ("inch", 0.0254), (0.001, 0.001), ("0.01", 0.01)]
)
def test_json_units_field_is_honoured(tmp_path, units, factor):
    pos = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3)  # by hand: every value times the factor
    (tmp_path / "m.json").write_text(json.dumps(_json_doc(pos, units=units, root_translation=pos[:, 0].tolist())))
    m = posecast.load(tmp_path / "m.json")
    np.testing.assert_allclose(m.positions, pos * factor, rtol=1e-15)
    np.testing.assert_allclose(m.root_translation, pos[:, 0] * factor, rtol=1e-15)


def test_json_forecast_and_described_skeleton_lengths_follow_the_units_field(tmp_path, walk):
    fc = posecast.forecast(walk, seconds=0.2, model="constant-velocity")
    posecast.save(fc, tmp_path / "f.json")
    doc = json.loads((tmp_path / "f.json").read_text())
    assert doc["units"] == "m"  # PoseCast writes metres and says so
    doc["units"] = "cm"
    doc["samples"] = (np.asarray(doc["samples"]) * 100).tolist()
    doc["history"]["positions"] = (np.asarray(doc["history"]["positions"]) * 100).tolist()
    doc["skeleton"]["offsets"] = (np.asarray(doc["skeleton"]["offsets"]) * 100).tolist()
    (tmp_path / "cm.json").write_text(json.dumps(doc))
    cm, metres = posecast.load(tmp_path / "cm.json"), posecast.load(tmp_path / "f.json")
    np.testing.assert_allclose(cm.samples, metres.samples, rtol=1e-12)
    np.testing.assert_allclose(cm.history.positions, metres.history.positions, rtol=1e-12)
    np.testing.assert_allclose(cm.skeleton.offsets, metres.skeleton.offsets, rtol=1e-12)
    np.testing.assert_allclose(cm.samples, fc.samples, atol=1e-6)  # (JSON keeps micrometres)


def test_json_in_unknown_or_undeclared_millimetres_is_refused(tmp_path):
    from posecast.api import load_motion
    from posecast.errors import ValueRangeError as VRE
    from posecast.synthetic import synthetic_walk

    m = synthetic_walk(seconds=1.0, fps=25.0)
    for bad in ("furlong", -1, True, "0"):
        (tmp_path / "odd.json").write_text(json.dumps(_json_doc(np.zeros((2, 17, 3)), units=bad)))
        with pytest.raises(FormatError, match=rf"odd\.json: unknown units {bad!r} \(use m, cm, mm, inch, cmu"):
            posecast.load(tmp_path / "odd.json")
    mm = posecast.Motion(m.positions * 1000.0, m.fps, m.skeleton)
    posecast.save(mm, tmp_path / "mm.json")  # PoseCast's writer says "units": "m": a mislabelled file
    with pytest.raises(VRE, match=r'mm\.json: a body spanning 1\d\d\d m: positions must be metres \(mm\?\); .*"units"'):
        load_motion(tmp_path / "mm.json")
    doc = json.loads((tmp_path / "mm.json").read_text())
    del doc["units"]
    (tmp_path / "bare.json").write_text(json.dumps(doc))  # no units field: --units / units= gives it
    with pytest.raises(VRE, match=r"\(mm\?\)"):
        load_motion(tmp_path / "bare.json")
    np.testing.assert_allclose(load_motion(tmp_path / "bare.json", units="mm").positions, m.positions, atol=1e-9)
    doc["units"] = "mm"
    (tmp_path / "told.json").write_text(json.dumps(doc))
    np.testing.assert_allclose(load_motion(tmp_path / "told.json").positions, m.positions, atol=1e-9)
    with pytest.raises(FormatError, match='declares "units": "mm"; leave the unit option out'):
        load_motion(tmp_path / "told.json", units="mm")


def test_csv_header_units_take_the_same_names_and_numbers_as_json(tmp_path):
    body = "a_x,a_y,a_z\n1,2,3\n"
    rig = json.dumps({"name": "one", "joint_names": ["a"], "parents": [-1]})
    for units, factor in (("cm", 0.01), ("inch", 0.0254), ("0.5", 0.5)):
        (tmp_path / "u.csv").write_text(f"# skeleton-json {rig}\n# fps=10 units={units}\n{body}")
        np.testing.assert_allclose(posecast.load(tmp_path / "u.csv").positions, [[[factor, 2 * factor, 3 * factor]]])
    (tmp_path / "u.csv").write_text(f"# skeleton-json {rig}\n# fps=10 units=furlong\n{body}")
    with pytest.raises(FormatError, match=r"u\.csv: unknown units 'furlong'"):
        posecast.load(tmp_path / "u.csv")


def test_a_small_body_written_by_posecast_loads_again(tmp_path):
    """PoseCast's .json and .csv declare their unit ("m"): a body 13 cm tall written by PoseCast is read back (it had
    been refused, with no way to load it: the file declares its unit, so units= is refused too); a file in mm that
    says "m" is still refused (test above)."""
    from posecast.api import load_motion
    from posecast.synthetic import synthetic_walk

    m = synthetic_walk(seconds=1.0, fps=25.0)
    small = posecast.Motion(m.positions * 0.1, m.fps, m.skeleton)
    for suffix in (".json", ".csv"):
        posecast.save(small, tmp_path / f"small{suffix}")
        np.testing.assert_allclose(load_motion(tmp_path / f"small{suffix}").positions, small.positions, atol=1e-6)
    np.save(tmp_path / "small.npy", small.positions)  # plain numbers declare nothing: still checked
    with pytest.raises(posecast.errors.ValueRangeError, match="positions must be metres"):
        load_motion(tmp_path / "small.npy", skeleton=m.skeleton.name, fps=25.0)


def test_a_key_pose_json_takes_no_unit_option(tmp_path):
    """A key-pose forecast's JSON is metres as written: a unit option is refused, not silently ignored."""
    from posecast.io.arrays import KEYPOSE_FIELDS, read_json

    (tmp_path / "k.json").write_text(json.dumps(dict.fromkeys(KEYPOSE_FIELDS, [])))
    with pytest.raises(FormatError, match="key-pose forecast is in metres, as written; leave the unit option out"):
        read_json(tmp_path / "k.json", scale=0.01)


WALK_POSITIONS = synthetic_walk(seconds=0.5, fps=20.0).positions  # (10, 31, 3) metres on cmu-bvh-31


@pytest.mark.parametrize(
    ("document", "options", "fps", "scale"),
    [
        ({"skeleton": "cmu-bvh-31", "fps": 25, "positions": WALK_POSITIONS.tolist()}, {}, 25.0, 1.0),
        ({"skeleton": "cmu-bvh-31", "positions": WALK_POSITIONS.tolist()}, {"fps": 30}, 30.0, 1.0),
        ({"fps": 25, "positions": WALK_POSITIONS.tolist()}, {"skeleton": "cmu-bvh-31"}, 25.0, 1.0),
        ({"skeleton": "h36m-17", "fps": 50, "positions": WALK_POSITIONS.tolist()}, {"skeleton": "cmu-bvh-31"}, 50, 1),
        ({"skeleton": "cmu-bvh-31", "fps": 25, "positions": (WALK_POSITIONS * 100).tolist(), "units": "cm"}, {}, 25, 1),
        ({"skeleton": "cmu-bvh-31", "fps": 25, "positions": (WALK_POSITIONS * 1000).tolist()}, {"scale": 1e-3}, 25, 1),
    ],
)
def test_json_written_by_hand_without_format_is_a_motion(tmp_path, document, options, fps, scale):
    """The guide's minimal JSON: "positions" with "skeleton" and "fps" (or skeleton= / fps=, which win as for a CSV;
    "units" or scale= as for a PoseCast document), no "format"."""
    path = tmp_path / "h.json"
    path.write_text(json.dumps(document))
    m = posecast.load(path, **options)
    assert isinstance(m, posecast.Motion) and m.skeleton.name == "cmu-bvh-31" and m.fps == fps
    np.testing.assert_allclose(m.positions, WALK_POSITIONS * scale, rtol=1e-12, atol=1e-15)
    assert m.rotations is None and m.metadata["source"] == str(path)
    assert m.metadata.get("units_declared") == document.get("units")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.just(17), st.just(3)), elements=st.floats(-50, 50)),
    st.floats(1.0, 240.0),
)
def test_json_by_hand_reads_its_numbers_property(tmp_path, positions, fps):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"skeleton": "h36m-17", "fps": fps, "positions": positions.tolist()}))
    m = posecast.load(path)
    np.testing.assert_array_equal(m.positions, positions)
    assert m.fps == fps and m.skeleton.name == "h36m-17"


def test_hand_written_json_forecasts_and_a_forecast_json_stays_a_forecast(tmp_path, walk):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"skeleton": "cmu-bvh-31", "fps": 20, "positions": walk.positions.tolist()}))
    fc = posecast.forecast(path, model="zero-velocity", frames=3)
    np.testing.assert_array_equal(fc.samples[0], np.repeat(walk.positions[-1:], 3, axis=0))
    back = posecast.load(posecast.save(fc, tmp_path / "f.json"))
    assert isinstance(back, posecast.Forecast) and back.samples.shape == (1, 3, 31, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"samples": [WALK_POSITIONS.tolist()]}, r'looks like a forecast \(samples\) without "format"'),
        ({"history": {}, "horizon": 1.0}, r'looks like a forecast \(history, horizon\) without "format"'),
        ({"rotations": np.tile(np.eye(3), (10, 31, 1, 1)).tolist()}, "rotations are read only from PoseCast's motion"),
    ],
)
def test_a_hand_written_json_with_a_forecasts_fields_or_rotations_is_refused(tmp_path, extra, message):
    """From a review: a format-less document with "samples" had been read as a motion, its samples dropped; one
    with identity "rotations" beside real positions had been trusted, and its BVH translated 21 joints."""
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"skeleton": "cmu-bvh-31", "fps": 25, "positions": WALK_POSITIONS.tolist(), **extra}))
    with pytest.raises(FormatError, match=message) as err:
        posecast.load(path)
    assert str(path) in str(err.value)


def test_frame_rate_and_skeleton_options_on_json_documents(tmp_path):
    """fps= as any real number (numpy's had been refused as a 'field'); PoseCast's own documents keep their skeleton
    and rate (the options are for plain numbers and hand-written JSON, so one set of options reads a mixed folder)."""
    hand = tmp_path / "h.json"
    hand.write_text(json.dumps({"skeleton": "cmu-bvh-31", "positions": WALK_POSITIONS.tolist()}))
    assert posecast.load(hand, fps=np.float32(25)).fps == 25.0
    with pytest.raises(ValueRangeError, match="fps= must be a positive number"):  # as for a .npy (review B)
        posecast.load(hand, fps=-3)
    walk = posecast.Motion(WALK_POSITIONS, 20.0, "cmu-bvh-31")
    doc = posecast.save(walk, tmp_path / "m.json")
    mixed = posecast.load(doc, fps=50, skeleton="h36m-17")
    assert mixed.fps == 20.0 and mixed.skeleton.name == "cmu-bvh-31"


def test_raw_load_of_bare_positions_honours_units(tmp_path):
    """``posecast.load(x.npy, skeleton=, fps=, units="mm")`` reads millimetres as load_motion does (the raw loader
    ignored ``units=`` and returned a 1.9 km body labelled metres, found while checking rollouts on arrays);
    ``scale=`` and ``units=`` together are refused."""
    import posecast
    from posecast.errors import FormatError
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=0.5, fps=30.0)
    path = tmp_path / "walk_mm.npy"
    np.save(path, walk.positions * 1000.0)
    m = posecast.load(path, skeleton=walk.skeleton.name, fps=30, units="mm")
    np.testing.assert_allclose(m.positions, walk.positions, atol=1e-9)
    np.testing.assert_allclose(posecast.load(path, skeleton=walk.skeleton.name, fps=30, units=0.001).positions,
                               walk.positions, atol=1e-9)  # fmt: skip
    with pytest.raises(FormatError, match="not both"):
        posecast.load(path, skeleton=walk.skeleton.name, fps=30, units="mm", scale=0.001)


def test_damaged_and_odd_saved_files_are_clear_errors(tmp_path, walk, cli):
    """QA (fuzzing the readers): a .npz cut short (an interrupted copy) or with a corrupt member, JSON nested
    thousands deep, an fps of 400 digits, metadata that is not an object and rotations that are not rotations had
    escaped as BadZipFile / zlib.error / RecursionError / OverflowError / AttributeError tracebacks (exit 1) or been
    read as they were. Each is now a `FormatError` naming the file (CLI: exit 2, one line)."""
    import io

    from posecast.io.reading import load_motion

    whole = posecast.save(walk, tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[:-10])
    for reader in (posecast.load, load_motion):
        with pytest.raises(FormatError, match="cut.npz"):
            reader(tmp_path / "cut.npz")
    code, out, err = cli("info", str(tmp_path / "cut.npz"))
    assert code == 2 and "cut.npz" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    buf = io.BytesIO()  # a compressed member whose deflate stream is damaged
    np.savez_compressed(buf, positions=walk.positions, fps=np.array(walk.fps), skeleton=np.array(walk.skeleton.name))
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("positions.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 20 : start + 60] = bytes(40)
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="bad.npz"):
        posecast.load(tmp_path / "bad.npz")

    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "posecast-motion", "positions": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(FormatError, match="nested too deeply"):
        posecast.load(deep)
    doc = {"positions": walk.positions.tolist(), "skeleton": walk.skeleton.name}
    (tmp_path / "fps.json").write_text(json.dumps(doc)[:-1] + ', "fps": 1' + "0" * 400 + "}")
    with pytest.raises(FormatError, match="no frame rate"):
        posecast.load(tmp_path / "fps.json")
    with pytest.raises(ValueRangeError, match="fps= must be a number"):
        posecast.load(tmp_path / "fps.json", fps=10**400)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({**doc, "fps": 20.0}).encode())
    assert posecast.load(tmp_path / "bom.json").num_frames == walk.num_frames  # as a CSV with a BOM reads

    with np.load(tmp_path / "w.npz") as z:
        arrays = dict(z)
    np.savez(tmp_path / "meta.npz", **{**arrays, "metadata": np.array("[1, 2]")})
    with pytest.raises(FormatError, match="'metadata' must be a JSON object, not a list"):
        posecast.load(tmp_path / "meta.npz")
    saved = json.loads(posecast.save(walk, tmp_path / "w.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**saved, "metadata": [1, 2]}))
    with pytest.raises(FormatError, match="'metadata' must be a JSON object"):
        posecast.load(tmp_path / "meta.json")
    assert "rotations" in arrays  # (the synthetic walk has them)
    good = arrays["rotations"]
    for rot, name in ((3.0 * np.ones_like(good), "scaled"), (np.zeros_like(good), "zero")):
        np.savez(tmp_path / f"{name}.npz", **{**arrays, "rotations": rot})
        with pytest.raises(FormatError, match="frame 0, joint 0 is not a rotation matrix"):
            posecast.load(tmp_path / f"{name}.npz")
    mirrored = arrays["rotations"].copy()
    mirrored[2, 1] = -mirrored[2, 1]  # orthonormal but det -1: a reflection
    np.savez(tmp_path / "mirror.npz", **{**arrays, "rotations": mirrored})
    with pytest.raises(FormatError, match="frame 2, joint 1 is not a rotation matrix"):
        posecast.load(tmp_path / "mirror.npz")
    (tmp_path / "rot.json").write_text(json.dumps({**saved, "rotations": np.zeros_like(arrays["rotations"]).tolist()}))
    with pytest.raises(FormatError, match="not a rotation matrix"):
        posecast.load(tmp_path / "rot.json")


def test_a_csv_or_json_that_mentions_radians_is_not_an_amc_clip(tmp_path, walk):
    """QA: the AMC sniffer matched ":radians" anywhere in the first bytes, so a CSV whose comment said
    "angles:radians" (or a JSON note) was read as an AMC clip and failed on its header."""
    csv = posecast.save(walk, tmp_path / "w.csv")
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0] + " angles:radians", *lines[1:]]) + "\n")
    np.testing.assert_allclose(posecast.load(csv).positions, walk.positions, atol=1e-6)
    doc = {"note": "angles:RADIANS", "positions": walk.positions.tolist(), "skeleton": walk.skeleton.name, "fps": 20}
    (tmp_path / "w.json").write_text(json.dumps(doc))
    assert posecast.io.detect_format(tmp_path / "w.json").name == "json"
    amc = tmp_path / "clip.amc"
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\n")
    assert posecast.io.detect_format(amc).name == "amc"


@pytest.mark.parametrize("ext", ["csv", "bvh"])
def test_motions_under_one_frame_per_second_are_not_written_where_they_would_not_read_back(tmp_path, ext):
    """QA: a 0.5 fps motion saved as CSV / BVH, which the readers then refused (rows 2 s apart read as tracking gaps; a
    Frame Time of 2 s read as a rate written in the wrong place). Refused when writing, nothing written; 1 fps still
    goes both ways; .npz holds any rate."""
    import posecast
    from posecast.errors import FormatError
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=6.0, fps=30.0)
    with pytest.raises(FormatError, match="0.5 frames per second.*resample it first"):
        posecast.save(walk.resample(0.5), tmp_path / f"slow.{ext}")
    assert not list(tmp_path.iterdir())
    posecast.save(walk.resample(1.0), tmp_path / f"one.{ext}")
    assert posecast.load(tmp_path / f"one.{ext}").fps == pytest.approx(1.0)
    posecast.save(walk.resample(0.5), tmp_path / "slow.npz")
    assert posecast.load(tmp_path / "slow.npz").fps == pytest.approx(0.5)
