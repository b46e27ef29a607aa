"""Exp-map text formats: CMU-Mocap benchmark (117 columns) and Human3.6M (99 columns)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posecast
from posecast.errors import FormatError, PosecastError
from posecast.io.expmap_txt import CMU_COLUMNS, H36M_COLUMNS, integrate_root_increments, root_increments
from posecast.skeletons.cmu import ASF_UNIT_M, CMU_BENCHMARK_OFFSETS_ASF


def _write_rows(path, rows):
    np.savetxt(path, np.atleast_2d(rows), fmt="%.9g", delimiter=",")
    return path


def _rz(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_cmu_row_vector_convention_by_hand(tmp_path):
    theta = 0.7
    row = np.zeros(CMU_COLUMNS)
    row[0:3] = [10.0, 20.0, 30.0]  # root position: ignored by the benchmark FK
    row[3:6] = [0.3, 0.2, 0.1]  # root rotation: ignored too
    row[3 + 3 * 2 + 2] = theta  # LeftUpLeg exp-map (0, 0, theta)
    motion = posecast.load(_write_rows(tmp_path / "one.txt", row))
    assert motion.skeleton.name == "cmu-mocap-38" and motion.fps == 120
    off = CMU_BENCHMARK_OFFSETS_ASF * ASF_UNIT_M
    # reference: p_LeftLeg = offset_LeftLeg @ expmap(r) + p_LeftUpLeg (row vectors), hips at the origin
    p_upleg = off[1] + off[2]
    p_leg = off[3] @ _rz(theta) + p_upleg
    np.testing.assert_allclose(motion.positions[0, 2], p_upleg, atol=1e-12)
    np.testing.assert_allclose(motion.positions[0, 3], p_leg, atol=1e-12)
    np.testing.assert_allclose(motion.positions[0, 0], 0.0)
    np.testing.assert_allclose(motion.root_translation[0], np.array([10, 20, 30]) * ASF_UNIT_M)
    # global motion applies the root rotation and translation
    glob = posecast.load(tmp_path / "one.txt", global_motion=True)
    np.testing.assert_allclose(glob.positions[0, 0], np.array([10, 20, 30]) * ASF_UNIT_M)


def test_real_benchmark_file_keeps_bone_lengths(cmu_mocap_dir):
    motion = posecast.load(cmu_mocap_dir / "test" / "walking" / "walking_1.txt")
    assert motion.num_frames == 359 and motion.metadata["first_frame_is_rest_pose"]
    skel = motion.skeleton
    child = np.arange(1, skel.num_joints)
    lengths = np.linalg.norm(motion.positions[:, child] - motion.positions[:, skel.parent_array[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(skel.bone_lengths(), lengths.shape), atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_cmu_write_read_round_trip(tmp_path, frames, seed):
    rng = np.random.default_rng(seed)
    rows = np.zeros((frames, CMU_COLUMNS))
    rows[:, :3] = rng.normal(scale=20, size=(frames, 3))
    rows[:, 3:] = rng.uniform(-1.0, 1.0, size=(frames, CMU_COLUMNS - 3))
    src = posecast.load(_write_rows(tmp_path / "src.txt", rows), global_motion=True)
    out = posecast.save(src, tmp_path / "out.txt", format="cmu-expmap")
    back = posecast.load(out, global_motion=True)
    np.testing.assert_allclose(back.positions, src.positions, atol=1e-7)
    np.testing.assert_allclose(back.rotations, src.rotations, atol=1e-7)


def test_h36m_file_reads_on_its_skeleton(tmp_path):
    rng = np.random.default_rng(3)
    rows = np.zeros((4, H36M_COLUMNS))
    rows[:, :3] = [[100.0, 900.0, -50.0]] * 4  # millimetres
    rows[:, 3:] = rng.uniform(-0.5, 0.5, size=(4, H36M_COLUMNS - 3))
    body = posecast.load(_write_rows(tmp_path / "h36m.txt", rows))
    assert body.skeleton.name == "h36m-32" and body.fps == 50
    np.testing.assert_allclose(body.positions[:, 0], 0.0, atol=1e-12)  # root increments ignored, as benchmarks do
    # global motion integrates the per-frame root increments (here a pure translation per frame)
    rows[:, 3:6] = 0.0
    motion = posecast.load(_write_rows(tmp_path / "h36m.txt", rows), global_motion=True)
    np.testing.assert_allclose(motion.positions[:, 0], np.arange(1, 5)[:, None] * [0.1, 0.9, -0.05], atol=1e-12)
    skel = motion.skeleton
    lengths = np.linalg.norm(motion.positions[:, 1:] - motion.positions[:, skel.parent_array[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(skel.bone_lengths(), lengths.shape), atol=1e-9)
    back = posecast.load(posecast.save(body, tmp_path / "back.txt", format="h36m-expmap"))
    np.testing.assert_allclose(back.positions, body.positions, atol=1e-7)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,3\n", "line 1 has 3 values"),
        (",".join(["0"] * CMU_COLUMNS) + "\n" + ",".join(["0"] * 50) + "\n", "line 2 has 50 values"),
        ("1,2,3\n" * 2, r"expected 117 \(the CMU-Mocap benchmark's layout; Human3.6M's has 99\)"),
        (",".join(["0"] * (CMU_COLUMNS - 1) + ["nan"]) + "\n", "NaN or inf at line 1"),
        (",".join(["0"] * (CMU_COLUMNS - 1) + ["abc"]) + "\n", r"line 1, column 117: non-numeric value 'abc'"),
        ("# a comment\n" + ",".join(["0"] * CMU_COLUMNS) + "\n" + ",".join(["0"] * 116 + ["x"]) + "\n", "line 3, col"),
        (",".join(["0"] * CMU_COLUMNS) + "\n" + " ".join(["0"] * CMU_COLUMNS) + "\n", r"line 2 has 1 values.*commas"),
        (";".join(["0"] * CMU_COLUMNS) + "\n", "separated by semicolons"),
        (";".join(["0,5"] * CMU_COLUMNS) + "\n", "semicolons, with decimal commas"),  # QA: no hint before
        (",".join(["0"] * 30 + ["1e300"] + ["0"] * 86) + "\n", r"line 1, column 31: 1e\+300 is no rotation"),
        ("root_x,root_y\n", "no frames"),
        ("\n\n", "no frames"),
    ],
)
def test_bad_expmap_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as info:
        posecast.load(path, format="cmu-expmap")
    assert str(path) in str(info.value)


def test_a_byte_order_mark_keeps_the_first_frame(tmp_path):
    """QA: a UTF-8 byte-order mark made line 1 read as a header (one frame lost without a word; a one-frame file
    was "no frames" or the wrong layout)."""
    rows = _h36m_rows(5)
    plain = _write_rows(tmp_path / "plain.txt", rows)
    for name, frames in (("bom.txt", rows), ("bom_one.txt", rows[:1])):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + _write_rows(tmp_path / "x.txt", frames).read_bytes())
        motion = posecast.load(path)
        assert motion.skeleton.name == "h36m-32" and motion.num_frames == len(frames)
        np.testing.assert_allclose(motion.positions, posecast.load(plain).positions[: len(frames)], atol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from(["cmu-expmap", "h36m-expmap", None]))
def test_garbage_never_escapes_as_another_exception(tmp_path, blob, fmt):
    path = tmp_path / "garbage.txt"
    path.write_bytes(blob)
    try:
        posecast.load(path, format=fmt)
    except PosecastError:
        pass


# --------------------------------------------------------------------- comments, headers, separators
def _h36m_rows(frames: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(-0.5, 0.5, size=(frames, H36M_COLUMNS))
    rows[:, :3] = rng.normal(scale=50.0, size=(frames, 3))  # millimetres per frame
    return rows


@pytest.mark.parametrize("layout", ["comment", "header", "spaces", "tabs", "comment+header+spaces"])
@pytest.mark.parametrize("columns", [CMU_COLUMNS, H36M_COLUMNS])
def test_comment_and_header_lines_and_blank_separated_values_are_read(tmp_path, layout, columns):
    rows = _h36m_rows(5) if columns == H36M_COLUMNS else np.random.default_rng(1).uniform(-1, 1, (5, CMU_COLUMNS))
    reference = posecast.load(_write_rows(tmp_path / "plain.txt", rows), global_motion=True)
    sep = "\t" if layout == "tabs" else " " if "spaces" in layout else ","
    lines = [sep.join(f"{v:.9g}" for v in r) for r in rows]
    if "header" in layout:
        lines.insert(0, sep.join(f"c{k}" for k in range(columns)))
    if "comment" in layout:
        lines.insert(0, "# exported by a mocap tool, 2024")
    path = tmp_path / "variant.txt"
    path.write_text("\n".join(lines) + "\n")
    m = posecast.load(path, global_motion=True)  # the layout found by its column count, header or not
    assert m.skeleton.name == reference.skeleton.name and m.num_frames == 5
    np.testing.assert_array_equal(m.positions, reference.positions)


def test_a_second_header_line_is_a_number_error_with_its_line(tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("# made by hand\n" + "\n".join([",".join(f"c{k}" for k in range(99))] * 2) + "\n")
    with pytest.raises(FormatError, match=r"line 3, column 1: non-numeric value 'c0'"):
        posecast.load(path, format="h36m-expmap")


# ------------------------------------------------------------------------------ writing .txt back
@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_root_increments_invert_their_integration(frames, seed):
    rows = _h36m_rows(frames, seed)
    absolute = integrate_root_increments(rows)
    np.testing.assert_allclose(root_increments(absolute), rows, atol=1e-9)
    np.testing.assert_allclose(integrate_root_increments(root_increments(absolute)), absolute, atol=1e-9)


def test_root_increments_by_hand():
    """Frame 0 turns the body 90 degrees about y and moves it 10 mm along x; frame 1 moves it 10 mm along its own
    x, which the turn has made the world's -z; the increments of that path are the file's columns."""
    absolute = np.zeros((2, H36M_COLUMNS))
    turn = np.pi / 2
    absolute[:, 3:6] = [0.0, -turn, 0.0]  # row-vector exp-map: the PoseCast rotation is Ry(+90 degrees)
    absolute[0, :3] = [10.0, 0.0, 0.0]
    absolute[1, :3] = [10.0, 0.0, -10.0]
    inc = root_increments(absolute)
    np.testing.assert_allclose(inc[:, :3], [[10.0, 0.0, 0.0], [10.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(inc[:, 3:6], [[0.0, -turn, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


def test_h36m_global_motion_survives_a_save_and_load(tmp_path):
    """The writer stores the root as per-frame increments, as the reader and Martinez et al.'s files expect (it
    had written the absolute root there: 75 times the distance after a round trip)."""
    h = np.zeros((150, H36M_COLUMNS))
    h[:, 0] = 5.0  # 5 mm along x every frame: 0.75 m after 150 frames
    h[:, 6:] = 0.1 * np.sin(np.arange(150)[:, None] / 10 + np.arange(93))
    g = posecast.load(_write_rows(tmp_path / "h.txt", h), global_motion=True)
    np.testing.assert_allclose(g.positions[-1, 0], [0.75, 0.0, 0.0], atol=1e-9)
    out = posecast.save(g, tmp_path / "h2.txt", format="h36m-expmap")
    np.testing.assert_allclose(np.loadtxt(out, delimiter=","), h, atol=1e-7)  # the same columns
    np.testing.assert_allclose(posecast.load(out, global_motion=True).positions, g.positions, atol=1e-7)
    rows = _h36m_rows(20, 5)
    turning = posecast.load(_write_rows(tmp_path / "t.txt", rows), global_motion=True)
    back = posecast.load(posecast.save(turning, tmp_path / "t2.txt", format="h36m-expmap"), global_motion=True)
    np.testing.assert_allclose(back.positions, turning.positions, atol=1e-6)
    # a motion read in the body frame keeps the increments it was read with
    body = posecast.load(tmp_path / "t.txt")
    np.testing.assert_allclose(np.loadtxt(posecast.save(body, tmp_path / "b.txt"), delimiter=","), rows, atol=1e-8)


def test_a_forecast_of_a_body_frame_motion_writes_its_root_as_read(tmp_path):
    """`Forecast.to_motion` keeps the exp-map reading's ``frame``: a forecast of a motion read in the body frame
    (root translation ignored, so the root stays put) is written with zero root increments and the root rotations
    as read (the root's path had been differenced once more as if it were world positions)."""
    rows = _h36m_rows(20, 5)
    body = posecast.load(_write_rows(tmp_path / "t.txt", rows))
    fc = posecast.models.get("zero-velocity").forecast(body, frames=3)
    motion = fc.to_motion(include_history=True)
    assert motion.metadata.get("frame") == body.metadata.get("frame")
    out = np.loadtxt(posecast.save(motion, tmp_path / "f.txt", format="h36m-expmap"), delimiter=",")
    np.testing.assert_allclose(out[: len(rows), :3], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[: len(rows), 3:6], rows[:, 3:6], atol=1e-6)


def test_save_as_txt_picks_the_writer_by_the_skeleton(tmp_path):
    h36m = posecast.load(_write_rows(tmp_path / "h.txt", _h36m_rows(4)), global_motion=True)
    out = posecast.save(h36m, tmp_path / "h3.txt")  # no format=: the skeleton says which layout
    assert np.loadtxt(out, delimiter=",").shape == (4, H36M_COLUMNS)
    assert posecast.load(out).skeleton.name == "h36m-32"
    cmu = posecast.load(_write_rows(tmp_path / "c.txt", np.zeros((2, CMU_COLUMNS))))
    assert np.loadtxt(posecast.save(cmu, tmp_path / "c2.txt"), delimiter=",").shape == (2, CMU_COLUMNS)
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=0.5, fps=10.0)
    with pytest.raises(FormatError, match=r"\.txt holds cmu-mocap-38 \(format='cmu-expmap'\) or h36m-32"):
        posecast.save(walk, tmp_path / "walk.txt")
    assert not (tmp_path / "walk.txt").exists()


def test_numbers_python_reads_but_numpy_does_not_are_named(tmp_path):
    """QA: ``1_0`` or an Arabic-Indic digit passed Python's ``float`` but not ``np.loadtxt``; the search for the bad
    value then found none and raised ``StopIteration``."""
    for token in ("1_0", "\u0661"):
        rows = [",".join(["0"] * (CMU_COLUMNS - 1) + [token])]
        path = tmp_path / "r.txt"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        with pytest.raises(FormatError, match=f"line 1, column {CMU_COLUMNS}: non-numeric value"):
            posecast.load(path)


def test_reading_options_of_exp_map_files(tmp_path):
    """QA: ``fps=`` and ``skeleton=`` were ignored without a word (``--fps 60`` on a benchmark file gave 120 Hz):
    ``fps`` now reads the file at that rate (as a BVH's Frame Time is overridden), the others are refused."""
    from posecast.errors import ValueRangeError
    from posecast.io.reading import load_motion

    path = _write_rows(tmp_path / "walking_1.txt", np.zeros((4, CMU_COLUMNS)))
    assert posecast.load(path).fps == 120.0 and load_motion(path, fps=60).fps == 60.0
    with pytest.raises(ValueRangeError, match="skeleton= does not apply to an exp-map file"):
        load_motion(path, skeleton="h36m-32")
    with pytest.raises(ValueRangeError, match="unknown option.*bogus"):
        posecast.load(path, bogus=1)
    with pytest.raises(ValueRangeError, match="frame rate"):
        posecast.load(path, fps=-1)
    h36m = _write_rows(tmp_path / "h.txt", np.zeros((4, H36M_COLUMNS)))
    assert posecast.load(h36m).fps == 50.0 and posecast.load(h36m, fps=25.0).fps == 25.0
