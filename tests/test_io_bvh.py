"""BVH reader and writer: hand-computed FK, pybvh as an oracle on real CMU files, round trips,
error messages, and hypothesis tests on random hierarchies and random corruptions."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import posecast
from posecast import skeletons
from posecast.errors import FormatError, PosecastError, ValueRangeError
from posecast.io import detect_format
from posecast.io.bvh import _euler_to_matrix_soa, _snap_frame_time, left_right_pairs, read_bvh, write_bvh
from posecast.kinematics.fk import forward_kinematics
from posecast.motion import Motion
from posecast.skeletons.cmu import ASF_UNIT_M, cmu_left_right
from posecast.synthetic import synthetic_walk

# ----------------------------------------------------------------------------- a hand-made file
# Three joints with 6 channels each, in three different channel layouts, CRLF line endings.
# Position channels replace the OFFSET; rotations are intrinsic in the order listed.
CHAIN = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
\tJOINT Spine
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0 5 0
\t\t\tCHANNELS 6 Xrotation Yrotation Zrotation Xposition Yposition Zposition
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 2 0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.04
1 2 3 0 0 0   0 10 0 0 0 0   0 0 0 0 5 0
0 0 0 90 0 0  0 10 0 0 90 0  0 0 0 1 0 0
0 0 0 90 90 0 0 10 0 0 0 0   0 0 0 0 5 0
""".replace("\n", "\r\n")

# Worked by hand (file units = cm):
#  frame 0: no rotation, the chain stands up: Hips (1,2,3), Spine +10 y, Head +5 y, end +2 y.
#  frame 1: Hips Rz(90) maps +y to -x: Spine at (-10,0,0). Spine's global rotation
#           Rz(90) @ Rx(90) = [[0,0,1],[1,0,0],[0,1,0]]; the Head's own translation channels
#           (1,0,0) map to (0,1,0): Head at (-10,1,0); the end site (0,2,0) maps to (0,0,2).
#  frame 2: Hips Rz(90) @ Ry(90) = [[0,-1,0],[0,0,1],[-1,0,0]] maps +y to -x: Spine (-10,0,0),
#           Head (-15,0,0), end (-17,0,0). (Extrinsic Ry @ Rz would map +y to +z instead.)
CHAIN_POSITIONS_CM = np.array([
    [[1, 2, 3], [1, 12, 3], [1, 17, 3], [1, 19, 3]],
    [[0, 0, 0], [-10, 0, 0], [-10, 1, 0], [-10, 1, 2]],
    [[0, 0, 0], [-10, 0, 0], [-15, 0, 0], [-17, 0, 0]],
], dtype=float)  # fmt: skip


def _write(tmp_path: Path, text: str | bytes, name: str = "t.bvh") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_hand_computed_chain_with_six_channels_everywhere_and_crlf(tmp_path):
    p = _write(tmp_path, CHAIN)
    m = read_bvh(p, units="cm")
    assert m.skeleton.joint_names == ("Hips", "Spine", "Head")
    assert m.skeleton.parents == (-1, 0, 1)
    assert m.fps == 25.0 and m.num_frames == 3
    np.testing.assert_allclose(m.positions, CHAIN_POSITIONS_CM[:, :3] * 0.01, atol=1e-15)
    np.testing.assert_allclose(m.root_translation, CHAIN_POSITIONS_CM[:, 0] * 0.01, atol=1e-15)
    np.testing.assert_allclose(m.skeleton.offsets, [[0, 0, 0], [0, 0.1, 0], [0, 0.05, 0]])
    rx90 = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    np.testing.assert_allclose(m.rotations[1, 1], rx90, atol=1e-15)
    np.testing.assert_allclose(m.rotations[2, 0], [[0, -1, 0], [0, 0, 1], [-1, 0, 0]], atol=1e-15)
    assert m.skeleton.end_effectors == (2,) and m.skeleton.name == "bvh-t"
    assert m.metadata["units"] == "cm" and m.metadata["metres_per_unit"] == 0.01
    assert m.metadata["bvh_end_sites"] == {"Head": [[0.0, 0.02, 0.0]]}

    e = read_bvh(p, units="cm", end_sites=True)
    assert e.skeleton.joint_names == ("Hips", "Spine", "Head", "Head_end")
    np.testing.assert_allclose(e.positions, CHAIN_POSITIONS_CM * 0.01, atol=1e-15)
    np.testing.assert_array_equal(e.rotations[:, 3], np.broadcast_to(np.eye(3), (3, 3, 3)))
    # through the registry, by content; old Mac CR-only line endings too
    assert detect_format(p).name == "bvh"
    np.testing.assert_allclose(posecast.load(p, units=0.01).positions, m.positions)
    cr = _write(tmp_path, CHAIN.replace("\r\n", "\r"), "cr.bvh")
    np.testing.assert_allclose(read_bvh(cr, units="cm").positions, m.positions)
    # written back (frame 2 is in gimbal lock for ZYX: Ry = 90) and read again
    out = posecast.save(e, tmp_path / "chain_out.bvh")
    assert "OFFSET 0 10 0" in out.read_text()  # written in the units it was read in (cm)
    again = read_bvh(out, end_sites=True, units="cm")
    assert again.fps == 25.0
    np.testing.assert_allclose(again.positions, e.positions, atol=1e-12)
    np.testing.assert_allclose(again.rotations, e.rotations, atol=1e-12)
    names = ("Hips", "Sp  ine", "Head", "Head_end")
    renamed = skeletons.Skeleton("bad", names, e.skeleton.parents, e.skeleton.offsets)
    with pytest.raises(FormatError, match="cannot be written"):
        write_bvh(Motion(e.positions, 25.0, renamed, rotations=e.rotations), tmp_path / "bad.bvh")


def test_auto_units_from_rest_pose_extent(tmp_path):
    def file_with_height(h: float) -> Path:
        text = CHAIN.replace("OFFSET 0 10 0", f"OFFSET 0 {h * 0.5} 0").replace("OFFSET 0 5 0", f"OFFSET 0 {h * 0.3} 0")
        return _write(tmp_path, text.replace("OFFSET 0 2 0", f"OFFSET 0 {h * 0.2} 0"), f"h{h}.bvh")

    # rest pose extent = the sum of the three vertical offsets = h
    for height, unit in ((1.7, "m"), (30.0, "cmu"), (68.0, "inch"), (170.0, "cm"), (1700.0, "mm")):
        m = read_bvh(file_with_height(height))
        assert m.metadata["units"] == unit and m.metadata["units_guessed"] is True
        assert m.metadata["rest_pose_extent"] == pytest.approx(height)
        rest = m.skeleton.rest_positions()
        assert rest[:, 1].max() == pytest.approx(height * 0.8 * m.metadata["metres_per_unit"])
    # a 1.73 m person in inches (68): inches, not CMU units (a 3.8 m giant); the bands' edges
    assert [read_bvh(file_with_height(h)).metadata["units"] for h in (44.0, 46.0, 94.0, 96.0)] == [
        "cmu",
        "inch",
        "inch",
        "cm",
    ]
    m = read_bvh(file_with_height(170.0), units="inch")
    assert m.metadata["metres_per_unit"] == 0.0254 and m.metadata["units_guessed"] is False
    with pytest.raises(ValueRangeError, match="unknown units"):
        read_bvh(file_with_height(170.0), units="furlong")
    with pytest.raises(ValueRangeError, match="positive"):
        read_bvh(file_with_height(170.0), units=-1.0)
    with pytest.raises(ValueRangeError, match="unknown option"):
        read_bvh(file_with_height(170.0), unit="cm")


@pytest.mark.parametrize(
    ("literal", "fps"),
    [
        (".0083333", 120.0),
        ("0.008333333333", 120.0),
        ("0.033333", 30.0),
        ("0.0416667", 24.0),
        ("0.04", 25.0),
        ("0.0166667", 60.0),
        ("8.3333e-3", 120.0),
        ("0.0167", 1 / 0.0167),  # 3 digits: taken literally
        ("0.007", 1 / 0.007),
        ("0.0417083", 1 / 0.0417083),  # 23.976 fps is not an integer rate
    ],
)
def test_frame_time_snapping(literal, fps):
    got, snapped = _snap_frame_time(literal, float(literal))
    assert got == pytest.approx(fps, rel=1e-12)
    assert snapped == (fps == round(fps) and 1 / fps != float(literal))


def test_euler_soa_matches_scipy_for_every_order():
    rng = np.random.default_rng(0)
    orders = [a + b + c for a in "XYZ" for b in "XYZ" for c in "XYZ" if a != b and b != c] + ["X", "ZY", "XX"]
    for order in orders:
        ang = rng.uniform(-400, 400, size=(len(order), 7, 5))
        ang[:, 0] = rng.choice([-180.0, -90.0, 0.0, 90.0, 180.0, 270.0], size=(len(order), 5))
        out = np.empty((3, 3, 7, 5))
        _euler_to_matrix_soa(ang, tuple("XYZ".index(a) for a in order), out)
        ref = np.broadcast_to(np.eye(3), (7, 5, 3, 3))
        for n, a in enumerate(order):
            ref = ref @ Rotation.from_euler(a, ang[n].reshape(-1, 1), degrees=True).as_matrix().reshape(7, 5, 3, 3)
        np.testing.assert_allclose(out.transpose(2, 3, 0, 1), ref, atol=2e-15, err_msg=order)


def test_left_right_pairs_conventions():
    cmu = skeletons.get("cmu-mocap-38").joint_names
    assert set(left_right_pairs(cmu)) == set(cmu_left_right(cmu))
    names = ["Hips", "LeftArm", "RightArm", "L_Hip", "R_Hip", "thigh.L", "thigh.R", "lShldr", "rShldr",
             "Bip01 L Thigh", "Bip01 R Thigh", "mixamorig:LeftHand", "mixamorig:RightHand", "left_foot",
             "right_foot", "Leg_l", "Leg_r", "HandLeft", "HandRight", "LowerBack", "Lumbar", "Rumbar"]  # fmt: skip
    pairs = {(names[a], names[b]) for a, b in left_right_pairs(names)}
    assert pairs == {
        ("LeftArm", "RightArm"), ("L_Hip", "R_Hip"), ("thigh.L", "thigh.R"), ("lShldr", "rShldr"),
        ("Bip01 L Thigh", "Bip01 R Thigh"), ("mixamorig:LeftHand", "mixamorig:RightHand"),
        ("left_foot", "right_foot"), ("Leg_l", "Leg_r"), ("HandLeft", "HandRight"),
    }  # fmt: skip


def test_left_right_pairs_of_lower_case_prefixes(tmp_path: Path):
    """QA: the ASF habit of lower-case ``l``/``r`` prefixes (``lfemur``, ``lhipjoint``, ``lthumb``) was paired when an
    ASF was read but not in a BVH (an HDM05 take written as BVH and read back had no pairs, so `Motion.mirror`
    reflected it without swapping its sides; all-lowercase CMU names lost two of twelve pairs)."""
    names = ["root", "lhipjoint", "lfemur", "rhipjoint", "rfemur", "lowerback", "lthumb", "rthumb", "Lumbar", "Rumbar"]
    pairs = {(names[a], names[b]) for a, b in left_right_pairs(names)}
    assert pairs == {("lhipjoint", "rhipjoint"), ("lfemur", "rfemur"), ("lthumb", "rthumb")}
    cmu = [n.lower() for n in skeletons.get("cmu-bvh-31").joint_names]
    assert len(left_right_pairs(cmu)) == len(left_right_pairs(skeletons.get("cmu-bvh-31").joint_names)) == 12
    # through a file: a BVH of ASF names keeps its pairs, and mirroring swaps the sides
    text = """HIERARCHY
ROOT root
{
  OFFSET 0 100 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT lfemur
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
  JOINT rfemur
  {
    OFFSET -10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 100 0 0 0 0 0 0 30 0 0 0
0 100 0 0 0 0 0 0 30 0 0 0
"""
    path = tmp_path / "asf.bvh"
    path.write_text(text)
    motion = read_bvh(path)
    names = motion.skeleton.joint_names
    assert {(names[a], names[b]) for a, b in motion.skeleton.left_right} >= {("lfemur", "rfemur")}
    mirrored = motion.mirror()
    left, right = names.index("lfemur"), names.index("rfemur")
    # the left hip's end swung by 30 degrees: mirrored, it is the right one that swings, x reflected
    np.testing.assert_allclose(mirrored.positions[:, right], motion.positions[:, left] * [-1, 1, 1], atol=1e-9)


# ------------------------------------------------------------------------- real CMU files + pybvh
ORACLE_FILES = ["02/02_01.bvh", "05/05_03.bvh", "06/06_07.bvh", "07/07_01.bvh", "08/08_02.bvh"]


def _pybvh(path: Path):
    pybvh = pytest.importorskip("pybvh")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pybvh.read_bvh_file(path, world_up="+y")


@pytest.mark.parametrize("name", ORACLE_FILES)
def test_cmu_files_match_pybvh(cmu_bvh_dir, name):
    path = cmu_bvh_dir / name
    ref = _pybvh(path)
    m = read_bvh(path)
    s = m.metadata["metres_per_unit"]
    assert m.metadata["units"] == "cmu" and s == ASF_UNIT_M
    assert m.skeleton.name == "cmu-bvh-31" and m.skeleton.same_layout(skeletons.get("cmu-bvh-31"))
    assert list(m.skeleton.joint_names) == ref.joint_names
    ref_pos = ref.joint_positions() * s
    assert np.abs(m.positions - ref_pos).max() <= 1e-9 * np.abs(ref_pos).max()
    _, ref_rot = ref.to_rotmat()
    np.testing.assert_allclose(m.rotations, ref_rot, atol=1e-12)
    np.testing.assert_allclose(m.root_translation, ref.root_pos * s, rtol=1e-15)

    e = read_bvh(path, end_sites=True)
    assert e.skeleton.joint_names == skeletons.get("cmu-mocap-38").joint_names
    assert e.skeleton.name == "cmu-mocap-38"
    ref_nodes = ref.node_positions() * s
    assert np.abs(e.positions - ref_nodes).max() <= 1e-9 * np.abs(ref_nodes).max()
    np.testing.assert_allclose(e.skeleton.offsets[1:], np.asarray([n.offset for n in ref.nodes])[1:] * s)


def test_cmu_metadata_against_index(cmu_bvh_dir):
    with open(cmu_bvh_dir / "INDEX.csv", newline="") as fh:
        index = {row["file"]: row for row in csv.DictReader(fh)}
    for name in ORACLE_FILES:
        m = read_bvh(cmu_bvh_dir / name)
        # frame 0 (the converter's T-pose) is kept: all declared frames come back
        assert m.num_frames == int(index[name]["bvh_frames"]) == int(index[name]["motion_frames_excl_rest"]) + 1
        assert m.fps == 120.0 and m.metadata["frame_time"] == float(index[name]["bvh_frame_time"])
        assert m.metadata["frame_time_snapped"] is True


def test_subject_01_offsets_are_the_registered_ones(cmu_bvh_dir):
    m = read_bvh(cmu_bvh_dir / "01/01_01.bvh")
    np.testing.assert_allclose(m.skeleton.offsets, skeletons.get("cmu-bvh-31").offsets, atol=1e-12)


@pytest.mark.parametrize("end_sites", [False, True])
def test_cmu_round_trip_through_save(cmu_bvh_dir, tmp_path, end_sites):
    src = cmu_bvh_dir / "07/07_01.bvh"
    m = read_bvh(src, end_sites=end_sites)
    out = posecast.save(m, tmp_path / "copy.bvh")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    back = posecast.load(out, end_sites=end_sites)
    assert back.skeleton.same_layout(m.skeleton) and back.skeleton.name == m.skeleton.name
    assert back.metadata["units"] == "cmu" and back.fps == 120.0
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-9)
    np.testing.assert_allclose(back.skeleton.offsets, m.skeleton.offsets, atol=1e-12)
    # End Sites come back in both cases, and an independent reader agrees with ours
    full = read_bvh(out, end_sites=True)
    np.testing.assert_allclose(full.positions, read_bvh(src, end_sites=True).positions, atol=1e-6)
    ref = _pybvh(out)
    np.testing.assert_allclose(ref.node_positions() * ASF_UNIT_M, full.positions, atol=1e-9)


def test_write_other_order_and_units(cmu_bvh_dir, tmp_path):
    m = read_bvh(cmu_bvh_dir / "08/08_02.bvh")[:50]
    path = tmp_path / "mm.bvh"
    write_bvh(m, path, order="XZY", units="mm")
    text = path.read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Xrotation Zrotation Yrotation" in text
    back = read_bvh(path)
    assert back.metadata["units"] == "mm"
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-9)


def test_write_synthetic_motion_and_stretchy_bones(tmp_path):
    walk = synthetic_walk(seconds=1.0, fps=30.0)
    back = posecast.load(posecast.save(walk, tmp_path / "walk.bvh"))
    assert back.metadata["units"] == "cm"  # default for motions that did not come from a BVH file
    assert back.skeleton.same_layout(walk.skeleton) and back.fps == 30.0
    np.testing.assert_allclose(back.positions, walk.positions, atol=1e-6)
    # positions that no longer follow the bones: the writer adds position channels, positions survive
    moved = walk.positions.copy()
    moved[:, 5] += [0.0, 0.01, 0.02]
    edited = Motion(moved, walk.fps, walk.skeleton, rotations=walk.rotations)
    write_bvh(edited, tmp_path / "edited.bvh")
    assert (tmp_path / "edited.bvh").read_text().count("CHANNELS 6") == 2  # root + the edited joint
    np.testing.assert_allclose(read_bvh(tmp_path / "edited.bvh").positions, moved, atol=1e-6)


def test_positions_only_motion_cannot_be_written(tmp_path):
    walk = synthetic_walk(seconds=0.5, fps=10.0)
    positions_only = walk.with_positions(walk.positions)
    with pytest.raises(FormatError, match=r"only joint positions.*\.npz"):
        posecast.save(positions_only, tmp_path / "x.bvh")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    with pytest.raises(FormatError, match=r"only joint positions.*\.csv.*\.json") as err:
        write_bvh(positions_only, tmp_path / "y.bvh")
    assert str(err.value).startswith(str(tmp_path / "y.bvh") + ": ")
    with pytest.raises(ValueRangeError, match="rotation order"):
        posecast.save(walk, tmp_path / "x.bvh", order="ZZX")


# ---------------------------------------------------------------------------------- bad input
SMALL = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Leg
  {
    OFFSET 0 -40 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.01
0 90 0 0 0 0 10 0 0
0 91 0 0 0 0 20 0 0
0 92 0 0 0 0 30 0 0
"""


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("0 92 0 0 0 0 30 0 0\n", "0 92 0 0 0", r"line 21: frame 3 has only 5 of the 9 values.*2 complete frames of 3"),
        ("0 92 0 0 0 0 30 0 0\n", "", r"ends after 2 frames but 'Frames:' \(line 17\) declares 3"),
        ("Frames: 3", "Frames: 2", r"3 frame lines but 'Frames:' \(line 17\) declares 2"),
        ("0 91 0 0 0 0 20 0 0", "0 91 0 0 0 0 20 0 0 7", r"line 20: frame 2 has 10 values but the hierarchy has 9"),
        ("0 91 0 0 0 0 20 0 0", "0 91 0 0 zero 0 20 0 0", r"line 20: frame 2, value 5: 'zero' is not a number"),
        ("0 91 0 0 0 0 20 0 0", "0 91 0 0 nan 0 20 0 0", r"line 20: frame 2, value 5 is 'nan'"),
        ("0 91 0 0 0 0 20 0 0", "0 91 0 0 0 -inf 20 0 0", r"line 20: frame 2, value 6 is '-inf'"),
        ("MOTION\n", "", r"no MOTION section"),
        ("    }\n  }\n}", "    }\n  }\n", r"unbalanced braces: the block of joint 'Hips' \(line 2\) is not closed"),
        ("    }\n  }\n}", "    }\n  }\n}\n}", r"line 16: unbalanced braces"),
        ("Xrotation\n    End", "Wrotation\n    End", r"line 9: unknown channel 'Wrotation' on joint 'Leg'"),
        ("Frame Time: 0.01", "Frame Time: 0", r"line 18: frame time '0' must be a positive"),
        ("Frame Time: 0.01", "Frame Time: -0.01", r"frame time '-0.01' must be a positive"),
        ("Frames: 3", "Frames: 0", r"line 17: the file declares 0 frames"),
        ("Frames: 3", "Frames: three", r"line 17: frame count 'three' is not an integer"),
        ("OFFSET 0 -40 0\n    CHANNELS", "OFFSET 0 -4O 0\n    CHANNELS", r"line 8: OFFSET value '-4O' is not a number"),
        ("JOINT Leg", "JOINT Hips", r"line 6: joint name 'Hips' is used twice \(first on line 2\)"),
        ("HIERARCHY", "HIERARCHIE", r"line 1: expected HIERARCHY"),
        ("CHANNELS 3 Zrotation", "CHANNELS 2 Zrotation", r"line 9: unexpected 'Xrotation'"),
    ],
)
def test_bad_input_names_file_line_and_problem(tmp_path, old, new, pattern):
    assert old in SMALL
    p = _write(tmp_path, SMALL.replace(old, new, 1))
    with pytest.raises(FormatError, match=pattern) as err:
        read_bvh(p)
    assert str(err.value).startswith(str(p) + ": ")
    with pytest.raises(FormatError, match=pattern):
        posecast.load(p)


def test_errors_name_each_file_although_hierarchies_are_cached(tmp_path):
    broken = SMALL.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 2 Zrotation Yrotation")
    for name in ("a.bvh", "b.bvh"):
        p = _write(tmp_path, broken, name)
        with pytest.raises(FormatError, match=r"line 19: frame 1 has 9 values but the hierarchy has 8") as err:
            read_bvh(p)
        assert str(err.value).startswith(f"{p}: ")
    good = [read_bvh(_write(tmp_path, SMALL.replace("-40", off), f"{off}.bvh"), units="m") for off in ("-40", "-30")]
    assert good[0].skeleton.offsets[1, 1] == -40 and good[1].skeleton.offsets[1, 1] == -30
    for name in ("c.bvh", "d.bvh"):
        p = _write(tmp_path, SMALL.replace("CHANNELS 3", "CHANNELS 3 Zrotation", 1), name)
        with pytest.raises(FormatError, match="line 9: unexpected 'Xrotation' in joint 'Leg'") as err:
            read_bvh(p)
        assert str(err.value).startswith(f"{p}: ")


def test_second_root_and_bom_and_sniff(tmp_path):
    two = SMALL.replace("MOTION\n", "ROOT Other\n{\n  OFFSET 0 0 0\n  CHANNELS 1 Xrotation\n}\nMOTION\n", 1)
    with pytest.raises(FormatError, match="line 16: a second ROOT"):
        read_bvh(_write(tmp_path, two))
    p = _write(tmp_path, b"\xef\xbb\xbf  \n" + SMALL.encode(), "bom.txt")
    assert detect_format(p).name == "bvh"  # by content, whatever the suffix
    assert posecast.load(p).num_frames == 3
    # UTF-16 with its byte-order mark, as Windows editors save text (QA: refused as "does not start with HIERARCHY")
    plain = read_bvh(_write(tmp_path, SMALL, "plain.bvh"))
    for codec in ("utf-16", "utf-16-be"):
        bom = b"\xfe\xff" if codec.endswith("be") else b""
        m = read_bvh(_write(tmp_path, bom + SMALL.replace("\n", "\r\n").encode(codec), f"{codec}.bvh"))
        np.testing.assert_array_equal(m.positions, plain.positions)
        assert m.skeleton.joint_names == plain.skeleton.joint_names
    with pytest.raises(FormatError, match="UTF-16 byte-order mark but is not UTF-16 text"):
        read_bvh(_write(tmp_path, b"\xff\xfe" + SMALL.encode("utf-16-le")[:-1], "odd.bvh"))


# ----------------------------------------------------------------------- hypothesis: random files
@st.composite
def bvh_sources(draw):
    """Random valid BVH text and the values it holds: ``(text, names, parents, offsets, layouts, values)``."""
    n = draw(st.integers(1, 7))
    parents = [-1] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    coord = st.floats(-2, 2, allow_nan=False, width=32)
    offsets = [[draw(coord) for _ in range(3)] for _ in range(n)]
    layouts = []
    for _ in range(n):
        pos = draw(st.lists(st.sampled_from("XYZ"), unique=True, max_size=3))
        rot = draw(st.lists(st.sampled_from("XYZ"), max_size=3))
        chans = [(a, "position") for a in pos] + [(a, "rotation") for a in rot]
        layouts.append(draw(st.permutations(chans)) if chans else [])
    if not any(layouts):
        layouts[0] = [("Y", "rotation")]
    end_site = [draw(st.booleans()) for _ in range(n)]
    frames = draw(st.integers(1, 4))
    values = []
    for _ in range(frames):
        row = []
        for layout in layouts:
            for _, kind in layout:
                row.append(draw(st.floats(-360, 360, width=32) if kind == "rotation" else coord))
        values.append(row)
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    tab = draw(st.sampled_from(["\t", "  "]))
    children = [[c for c in range(n) if parents[c] == j] for j in range(n)]
    lines = ["HIERARCHY"]
    order = []

    def emit(j: int, depth: int) -> None:
        order.append(j)
        pad = tab * depth
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} J{j}")
        lines.append(pad + "{")
        lines.append(pad + tab + "OFFSET " + " ".join(repr(float(v)) for v in offsets[j]))
        chans = " ".join(a + kind for a, kind in layouts[j])
        lines.append(f"{pad}{tab}CHANNELS {len(layouts[j])} {chans}".rstrip())
        for c in children[j]:
            emit(c, depth + 1)
        if end_site[j]:
            lines.extend([pad + tab + "End Site", pad + tab + "{", pad + tab * 2 + "OFFSET 0 0.5 0", pad + tab + "}"])
        lines.append(pad + "}")

    emit(0, 0)
    # frame values are laid out in file (depth-first) order
    flat_cols, start = {}, 0
    for j in range(n):
        flat_cols[j] = list(range(start, start + len(layouts[j])))
        start += len(layouts[j])
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    for row in values:
        lines.append(" ".join(repr(float(row[c])) for j in order for c in flat_cols[j]))
    return nl.join(lines) + nl, order, parents, offsets, layouts, values, flat_cols


def _reference_fk(order, parents, offsets, layouts, values, flat_cols):
    """Independent FK: scipy per channel, posecast.kinematics.forward_kinematics, file order."""
    vals = np.asarray(values, dtype=np.float64)
    t = vals.shape[0]
    new = {j: k for k, j in enumerate(order)}
    rots = np.tile(np.eye(3), (t, len(order), 1, 1))
    trans = np.tile(np.asarray([offsets[j] for j in order], dtype=np.float64), (t, 1, 1))
    for j in order:
        for (axis, kind), col in zip(layouts[j], flat_cols[j], strict=True):
            if kind == "rotation":
                r = Rotation.from_euler(axis, vals[:, col, None], degrees=True).as_matrix()
                rots[:, new[j]] = rots[:, new[j]] @ r
            else:
                trans[:, new[j], "XYZ".index(axis)] = vals[:, col]
    par = [-1 if parents[j] < 0 else new[parents[j]] for j in order]
    pos, _ = forward_kinematics(rots, trans, par, trans[:, 0])
    return pos, rots


FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(src=bvh_sources())
def test_random_hierarchies_read_and_round_trip(tmp_path, src):
    text, order, parents, offsets, layouts, values, flat_cols = src
    path = _write(tmp_path, text, "random.bvh")
    m = read_bvh(path, units="m")
    assert m.skeleton.joint_names == tuple(f"J{j}" for j in order)
    assert m.fps == 30.0
    ref_pos, ref_rot = _reference_fk(order, parents, offsets, layouts, values, flat_cols)
    np.testing.assert_allclose(m.positions, ref_pos, atol=1e-9)
    np.testing.assert_allclose(m.rotations, ref_rot, atol=1e-12)
    out = posecast.save(m, tmp_path / "written.bvh")
    back = read_bvh(out, units="m")
    assert back.skeleton.same_layout(m.skeleton)
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-8)
    full, back_full = read_bvh(path, units="m", end_sites=True), read_bvh(out, units="m", end_sites=True)
    assert back_full.skeleton.same_layout(full.skeleton)
    np.testing.assert_allclose(back_full.positions, full.positions, atol=1e-6)
    # every joint is written with the channels it was read with, unless they are no Euler order (an axis twice in
    # a row: "XXY", "ZZ"), which are written as three rotations in the file's default order
    written = back.metadata["bvh_joint_channels"]
    for j in order:
        rot = [a for a, kind in layouts[j] if kind == "rotation"]
        if any(a == b for a, b in zip(rot, rot[1:], strict=False)):
            continue
        assert written[f"J{j}"] == " ".join(a + kind for a, kind in layouts[j]), (j, layouts[j])


JUNK = ["", "nan", "inf", "-1e999", "{", "}", "JOINT", "End", "Site", "ROOT", "OFFSET", "CHANNELS", "MOTION",
        "Frames:", "Frame", "Time:", "abc", "-", "1.2.3", "1_0", "0", "-1", "7", "99999", "\x00", "é", "\r",
        "\n"]  # fmt: skip


@FAST
@given(src=bvh_sources(), data=st.data())
def test_random_corruptions_raise_only_posecast_errors(tmp_path, src, data):
    raw = src[0].encode()
    mode = data.draw(st.sampled_from(["truncate", "replace", "drop_line", "duplicate_line"]))
    if mode == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        lines = raw.split(b"\n")
        i = data.draw(st.integers(0, len(lines) - 1))
        if mode == "replace":
            toks = lines[i].split(b" ") or [b""]
            k = data.draw(st.integers(0, len(toks) - 1))
            toks[k] = data.draw(st.sampled_from(JUNK)).encode()
            lines[i] = b" ".join(toks)
        elif mode == "drop_line":
            del lines[i]
        else:
            lines.insert(i, lines[i])
        raw = b"\n".join(lines)
    path = _write(tmp_path, raw, "corrupt.bvh")
    for reader in (read_bvh, posecast.load):
        try:
            m = reader(path)
        except PosecastError:
            continue
        assert isinstance(m, Motion) and np.isfinite(m.positions).all()


def test_a_small_child_in_centimetres_is_read_right_with_units_on_the_command_line(tmp_path):
    """A body 45-95 units tall is taken for one in inches (the likelier case); ``--units cm`` says otherwise."""
    import subprocess
    import sys

    walk = synthetic_walk(seconds=2.0, fps=30.0)
    root = None if walk.root_translation is None else walk.root_translation * 0.5
    skel = walk.skeleton.with_offsets(walk.skeleton.offsets * 0.5, name="child")
    small = Motion(walk.positions * 0.5, walk.fps, skel, rotations=walk.rotations, root_translation=root)
    path = tmp_path / "child.bvh"
    write_bvh(small, path, units="cm")
    guessed, told = read_bvh(path), read_bvh(path, units="cm")
    assert guessed.metadata["units"] == "inch" and guessed.metadata["units_guessed"] is True
    np.testing.assert_allclose(told.positions, small.positions, atol=1e-6)
    for units, want in (("cm", small.positions), ("0.01", small.positions), (None, guessed.positions)):
        out = tmp_path / f"f_{units}.npz"
        args = [sys.executable, "-m", "posecast", "forecast", str(path), "--horizon", "0.2", "--out", str(out)]
        r = subprocess.run(args + ([] if units is None else ["--units", units]), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        np.testing.assert_allclose(posecast.load(out).history.positions, want, atol=1e-5)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "posecast",
            "forecast",
            str(path),
            "--units",
            "furlong",
            "--out",
            str(tmp_path / "x.npz"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown units 'furlong'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.npz").exists()


def test_a_channel_with_an_absurd_value_is_refused_naming_the_frame(tmp_path):
    text = CHAIN.replace("0 0 0 90 90 0 0 10 0", "1e300 0 0 90 90 0 0 10 0")  # frame 2's root x
    with pytest.raises(FormatError, match=r"huge\.bvh: frame 2: a joint lies more than 100000 m"):
        read_bvh(_write(tmp_path, text, "huge.bvh"))
    far = _write(tmp_path, CHAIN.replace("0 0 0 90 90 0 0 10 0", "9e6 0 0 90 90 0 0 10 0"), "far.bvh")
    assert read_bvh(far, units="cm").positions[2, 0, 0] == pytest.approx(9e4)  # 90 km: odd, but read


# ------------------------------------------------------------------- End Sites as exporters write them
@pytest.mark.parametrize(
    "end_site",
    [
        "End Site {\n      OFFSET 0 -40 0\n    }",  # the brace on the End Site line, as on ROOT / JOINT lines
        "End Site { OFFSET 0 -40 0 }",  # all on one line
        "End Site Toe {\n      OFFSET 0 -40 0\n    }",  # named, brace on the line
        "End Site\n    {\n      CHANNELS 0\n      OFFSET 0 -40 0\n    }",  # an empty CHANNELS line
        "End Site\n    {\n      OFFSET 0 -40 0\n      CHANNELS 0\n    }",
    ],
)
def test_end_site_braces_on_its_line_and_empty_channels_are_read(tmp_path, end_site):
    block = "End Site\n    {\n      OFFSET 0 -40 0\n    }"
    assert block in SMALL
    reference = read_bvh(_write(tmp_path, SMALL, "ref.bvh"), end_sites=True, units="cm")
    m = read_bvh(_write(tmp_path, SMALL.replace(block, end_site)), end_sites=True, units="cm")
    assert m.skeleton.joint_names == ("Hips", "Leg", "Leg_end")
    # by hand: Hips at (0, 90 + t, 0) cm, the Leg 40 cm below, its bone turned by Rz(10, 20, 30 degrees)
    for t, angle in enumerate((10.0, 20.0, 30.0)):
        a = np.radians(angle)
        foot = np.array([0.0, 50.0 + t, 0.0]) + 40.0 * np.array([np.sin(a), -np.cos(a), 0.0])
        np.testing.assert_allclose(m.positions[t] * 100, [[0, 90 + t, 0], [0, 50 + t, 0], foot], atol=1e-12)
    np.testing.assert_array_equal(m.positions, reference.positions)


def test_an_end_site_with_channels_is_refused_naming_the_line(tmp_path):
    text = SMALL.replace("End Site\n    {\n", "End Site\n    {\n      CHANNELS 2 Xrotation Yrotation\n")
    with pytest.raises(FormatError, match=r"line 12: the End Site of 'Leg' declares 2 channels; an End Site has none"):
        read_bvh(_write(tmp_path, text))
    text = SMALL.replace("      OFFSET 0 -40 0\n    }", "    }")
    with pytest.raises(FormatError, match=r"line 12: the End Site of 'Leg' has no OFFSET"):
        read_bvh(_write(tmp_path, text, "no_offset.bvh"))


# --------------------------------------------------------------- writing back the channels as read
def _channel_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip().startswith("CHANNELS")]


def test_each_joint_is_written_back_with_its_own_channels_and_order(tmp_path):
    """CHAIN's joints have three rotation orders (ZYX, ZXY, XYZ), positions on every joint and the Head's
    rotations before its positions: all written back as read, positions as computed by hand."""
    p = _write(tmp_path, CHAIN)
    m = read_bvh(p, units="cm")
    assert "bvh_rotation_order" not in m.metadata  # no order shared by all joints
    assert m.metadata["bvh_joint_channels"] == {
        "Hips": "Xposition Yposition Zposition Zrotation Yrotation Xrotation",
        "Spine": "Xposition Yposition Zposition Zrotation Xrotation Yrotation",
        "Head": "Xrotation Yrotation Zrotation Xposition Yposition Zposition",
    }
    out = posecast.save(m, tmp_path / "out.bvh")
    assert _channel_lines(out.read_text()) == _channel_lines(CHAIN)
    back = read_bvh(out, units="cm")
    np.testing.assert_allclose(back.positions, CHAIN_POSITIONS_CM[:, :3] * 0.01, atol=1e-12)
    # an order= given by the caller still turns every joint's rotations into it; position channels stay
    write_bvh(m, tmp_path / "xzy.bvh", order="XZY")
    assert _channel_lines((tmp_path / "xzy.bvh").read_text()) == [
        "CHANNELS 6 Xposition Yposition Zposition Xrotation Zrotation Yrotation",
        "CHANNELS 6 Xposition Yposition Zposition Xrotation Zrotation Yrotation",
        "CHANNELS 6 Xrotation Zrotation Yrotation Xposition Yposition Zposition",
    ]
    np.testing.assert_allclose(read_bvh(tmp_path / "xzy.bvh", units="cm").positions, m.positions, atol=1e-12)


# The Bandai Namco layout (6 channels on every joint, the position channels equal to the OFFSET but for the
# exporter's rounding), one joint in another rotation order, and a root that only rotates in place.
SIX = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 3 Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 20 0
      CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
      End Site
      {
        OFFSET 0 10 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0  0 10 0 0 0 0  0 20.000001 0 0 0 0
90 0 0  0 10 0 0 0 0  0 20 0 0 30 0
"""


def test_six_channel_joints_and_a_root_that_only_rotates_keep_their_layout(tmp_path):
    m = read_bvh(_write(tmp_path, SIX), units="cm")
    # by hand, frame 1: the Hips' Rz(90) turns +y to -x: Spine at (-10, 90, 0) cm, Head at (-30, 90, 0)
    np.testing.assert_allclose(m.positions[1] * 100, [[0, 90, 0], [-10, 90, 0], [-30, 90, 0]], atol=1e-12)
    out = posecast.save(m, tmp_path / "out.bvh")
    text = out.read_text()
    # the Head's Y position differs from its OFFSET by 1e-6 cm only (print rounding): it keeps its 6 channels
    assert _channel_lines(text) == _channel_lines(SIX)
    assert "OFFSET 0 90 0" in text  # the root stays where its OFFSET put it, with no position channels
    back = read_bvh(out, units="cm")
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-12)
    # a root that leaves its place gets position channels, put before its rotations; the rest stay
    moved = m.positions + np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5]])[:, None]  # frame 1 half a metre on
    walked = Motion(moved, m.fps, m.skeleton, rotations=m.rotations, metadata=m.metadata)
    write_bvh(walked, tmp_path / "moved.bvh")
    lines = _channel_lines((tmp_path / "moved.bvh").read_text())
    assert lines == ["CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"] + _channel_lines(SIX)[1:]
    np.testing.assert_allclose(read_bvh(tmp_path / "moved.bvh", units="cm").positions, moved, atol=1e-9)


def test_a_forecast_of_a_mixed_order_rig_is_written_in_each_joints_own_order(tmp_path):
    """`Forecast.to_motion` keeps what the reader recorded, so a forecast written as BVH has the input's
    channels, joint by joint (one odd joint had turned the whole file to ZYX)."""
    m = read_bvh(_write(tmp_path, SIX), units="cm")
    future = m.positions[-1:] + [[0.0, 0.0, 0.01]]  # the body moves 1 cm forward: the root needs positions
    fc = posecast.Forecast(samples=future[None], fps=m.fps, skeleton=m.skeleton, history=m)
    joined = fc.to_motion()
    assert joined.metadata["bvh_joint_channels"] == m.metadata["bvh_joint_channels"]
    out = posecast.save(joined, tmp_path / "f.bvh")
    lines = _channel_lines(out.read_text())
    assert lines[1:] == _channel_lines(SIX)[1:]
    assert lines[0] == "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    np.testing.assert_allclose(read_bvh(out, units="cm").positions, joined.positions, atol=1e-9)


def test_joints_read_with_one_or_two_rotation_channels_keep_them(tmp_path):
    """A knee with one rotation channel, an elbow with two (one angle past 90 degrees, where scipy's Euler angles
    take the other of the two equivalent solutions), a joint with none: written back with the same channels."""
    text = SMALL.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 2 Zrotation Xrotation")
    text = text.replace("10 0 0\n", "10 120 0\n").replace("20 0 0\n", "20 -150 0\n").replace("30 0 0\n", "30 0 0\n")
    text = text.replace("0 90 0 0 0 0 10 120 0", "0 90 0 0 0 0 10 120").replace(" 20 -150 0\n", " 20 -150\n")
    text = text.replace(" 30 0 0\n", " 30 0\n")
    m = read_bvh(_write(tmp_path, text), units="cm")
    out = posecast.save(m, tmp_path / "out.bvh")
    assert _channel_lines(out.read_text())[1] == "CHANNELS 2 Zrotation Xrotation"
    back = read_bvh(out, units="cm")
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-12)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-12)
    # one channel; then none (the rotation is the identity)
    one = read_bvh(_write(tmp_path, SMALL.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 1 Xrotation")
                          .replace(" 10 0 0\n", " 10\n").replace(" 20 0 0\n", " 20\n").replace(" 30 0 0\n", " 30\n"),
                          "one.bvh"), units="cm")  # fmt: skip
    assert _channel_lines(posecast.save(one, tmp_path / "one_out.bvh").read_text())[1] == "CHANNELS 1 Xrotation"
    np.testing.assert_allclose(read_bvh(tmp_path / "one_out.bvh", units="cm").positions, one.positions, atol=1e-12)
    # a joint whose rotation no longer lies about its axis (a forecast) gets all three, in an order that starts
    # with the axis read; the positions survive
    turned = one.rotations.copy()
    turned[:, 1] = Rotation.from_euler("XYZ", [[5, 10, 15]] * 3, degrees=True).as_matrix()
    pos, _ = forward_kinematics(turned, one.skeleton.offsets, one.skeleton.parents, one.positions[:, 0])
    write_bvh(Motion(pos, one.fps, one.skeleton, rotations=turned, metadata=one.metadata), tmp_path / "t.bvh")
    assert _channel_lines((tmp_path / "t.bvh").read_text())[1] == "CHANNELS 3 Xrotation Yrotation Zrotation"
    np.testing.assert_allclose(read_bvh(tmp_path / "t.bvh", units="cm").positions, pos, atol=1e-12)


def test_a_joint_named_like_an_end_site_stays_a_joint(tmp_path):
    """A real ``JOINT Leg_end`` (rotation channels, all zero, and an End Site of its own) is written back as a
    joint; a leaf that came from an End Site (``end_sites=True``) still becomes one."""
    text = SMALL.replace(
        "    End Site\n    {\n      OFFSET 0 -40 0\n    }",
        "    JOINT Leg_end\n    {\n      OFFSET 0 -40 0\n      CHANNELS 3 Zrotation Yrotation Xrotation\n"
        "      End Site\n      {\n        OFFSET 0 -5 0\n      }\n    }",
    )
    text = text.replace(" 10 0 0\n", " 10 0 0 0 0 0\n").replace(" 20 0 0\n", " 20 0 0 0 0 0\n")
    text = text.replace(" 30 0 0\n", " 30 0 0 0 0 0\n")
    m = read_bvh(_write(tmp_path, text), units="cm")
    assert m.skeleton.joint_names == ("Hips", "Leg", "Leg_end")
    out = posecast.save(m, tmp_path / "out.bvh")
    assert "JOINT Leg_end" in out.read_text() and out.read_text().count("End Site") == 1
    back = read_bvh(out, units="cm")
    assert back.skeleton.joint_names == m.skeleton.joint_names
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-12)
    ends = read_bvh(_write(tmp_path, SMALL, "small.bvh"), units="cm", end_sites=True)
    assert ends.skeleton.joint_names[-1] == "Leg_end"
    assert "JOINT Leg_end" not in posecast.save(ends, tmp_path / "ends.bvh").read_text()


# ------------------------------------------------------------------------------------- frame rates
def test_a_frame_time_that_is_really_a_rate_is_refused_with_the_hint(tmp_path):
    p = _write(tmp_path, SMALL.replace("Frame Time: 0.01", "Frame Time: 120"))
    with pytest.raises(FormatError, match=r"line 18: Frame Time 120 s is under one frame per second") as err:
        read_bvh(p)
    assert "1/120 = 0.00833333 s" in str(err.value) and "fps= (CLI: --fps)" in str(err.value)
    # one frame a second is the slowest rate read (stop motion); 1.5 s is refused
    assert read_bvh(_write(tmp_path, SMALL.replace("Frame Time: 0.01", "Frame Time: 1"), "one.bvh")).fps == 1.0
    with pytest.raises(FormatError, match="under one frame per second"):
        read_bvh(_write(tmp_path, SMALL.replace("Frame Time: 0.01", "Frame Time: 1.5"), "slow.bvh"))


@pytest.mark.parametrize("frame_time", ["Frame Time: 120", "Frame Time: 0", "Frame Time: 0,01", "Frame Time:", ""])
def test_fps_overrides_a_bad_or_missing_frame_time(tmp_path, frame_time):
    p = _write(tmp_path, SMALL.replace("Frame Time: 0.01\n", frame_time + "\n" if frame_time else ""))
    with pytest.raises(FormatError, match=r"fps= \(CLI: --fps\)"):
        posecast.load(p)
    m = posecast.load(p, fps=100)
    assert m.fps == 100.0 and m.num_frames == 3 and m.metadata["fps_source"] == "option"
    np.testing.assert_allclose(m.positions, read_bvh(_write(tmp_path, SMALL, "good.bvh")).positions)
    with pytest.raises(ValueRangeError, match="impossible frame rate"):
        posecast.load(p, fps=0)


def test_fps_also_overrides_a_good_frame_time(tmp_path):
    m = read_bvh(_write(tmp_path, SMALL), fps=60.0)
    assert m.fps == 60.0 and m.metadata["frame_time"] == 0.01 and m.metadata["fps_source"] == "option"
    assert "fps_source" not in read_bvh(tmp_path / "t.bvh").metadata


# ------------------------------------------------------------------------------------ encodings
def test_shift_jis_joint_names_are_read_as_japanese_and_latin1_stays_latin1(tmp_path):
    text = SMALL.replace("Hips", "腰").replace("Leg", "左足")
    m = read_bvh(_write(tmp_path, text.encode("cp932")))
    assert m.skeleton.joint_names == ("腰", "左足") and m.metadata["encoding"] == "cp932"
    np.testing.assert_allclose(m.positions, read_bvh(_write(tmp_path, SMALL, "ascii.bvh")).positions)
    latin = read_bvh(_write(tmp_path, SMALL.replace("Leg", "Épaule").encode("latin-1"), "latin.bvh"))
    assert latin.skeleton.joint_names == ("Hips", "Épaule") and latin.metadata["encoding"] == "latin-1"
    assert "encoding" not in read_bvh(_write(tmp_path, text, "utf8.bvh")).metadata  # UTF-8: as before


def test_a_root_offset_beside_position_channels_is_written_back(tmp_path):
    """A root OFFSET on axes that also have position channels is not read (the channels are the position) and is
    written back as read, directly and through a forecast (QA: it came back as 0 0 0, the hierarchy no longer the
    user's); a file without one writes 0 0 0 as before."""
    text = SMALL.replace("  OFFSET 0 0 0\n  CHANNELS 6", "  OFFSET 1.5 60 0\n  CHANNELS 6", 1)
    src = read_bvh(_write(tmp_path, text, "root_offset.bvh"))
    plain = read_bvh(_write(tmp_path, SMALL, "plain.bvh"))
    np.testing.assert_array_equal(src.positions, plain.positions)  # the channels are the position
    for motion, name in (
        (src, "a.bvh"),
        (posecast.forecast(src, model="constant-velocity", frames=2).to_motion(), "b.bvh"),
    ):
        out = tmp_path / name
        write_bvh(motion, out)  # in the unit it was read in
        lines = out.read_text().splitlines()
        assert lines[lines.index("ROOT Hips") + 2].strip() == "OFFSET 1.5 60 0"
        np.testing.assert_allclose(read_bvh(out).positions[: src.num_frames], src.positions, atol=1e-9)
    write_bvh(plain, tmp_path / "c.bvh")
    lines = (tmp_path / "c.bvh").read_text().splitlines()
    assert lines[lines.index("ROOT Hips") + 2].strip() == "OFFSET 0 0 0"


def test_a_skeleton_name_for_a_bvh_file_is_refused_saying_why(tmp_path):
    """QA: ``skeleton=`` (``--skeleton``, meant for files of plain numbers) on a BVH read "unknown option(s) for
    reading BVH: skeleton"; it now says the file names its own joints."""
    path = tmp_path / "walk.bvh"
    posecast.save(synthetic_walk(seconds=1.0, fps=30.0), path)
    with pytest.raises(ValueRangeError, match=r"walk\.bvh: skeleton= does not apply to a BVH file: it names its own"):
        posecast.load(path, skeleton="body-17")


def test_digit_separators_in_the_motion_header_are_refused(tmp_path):
    """QA: Python's int / float read ``Frames: 1_0`` and ``Frame Time: 0.0_333`` though the frame rows' parser
    refuses ``1_0``; both header values are now plain decimals only."""
    head = "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n End Site\n {\n"
    head += "  OFFSET 0 1 0\n }\n}\nMOTION\n"
    rows = "0 0 0\n" * 10
    (tmp_path / "a.bvh").write_text(head + "Frames: 1_0\nFrame Time: 0.0333\n" + rows)
    with pytest.raises(FormatError, match="frame count '1_0' is not an integer"):
        posecast.load(tmp_path / "a.bvh")
    (tmp_path / "b.bvh").write_text(head + "Frames: 10\nFrame Time: 0.0_333\n" + rows)
    with pytest.raises(FormatError, match="frame time '0.0_333' is not a number"):
        posecast.load(tmp_path / "b.bvh")
    (tmp_path / "c.bvh").write_text(head + "Frames: 10\nFrame Time: 0.0333\n" + rows)
    assert posecast.load(tmp_path / "c.bvh").num_frames == 10


@pytest.mark.parametrize("name", ["smpl-24", "smplh-22", "h36m-17", "h36m-32"])
def test_a_registered_rig_written_as_bvh_reads_back_on_itself(tmp_path, name):
    """QA: ``write_bvh`` writes joints depth-first, so a motion on smpl-24 came back as ``bvh-<file>`` in another
    joint order (1.5 m off when indexed by the registered order); h36m kept its order but lost its name. The reader
    now recognises a registered rig by its joint names and parents, in any order."""
    from posecast.kinematics.fk import forward_kinematics
    from posecast.kinematics.rotations import axis_angle_to_matrix

    sk = posecast.skeletons.get(name)
    rot = axis_angle_to_matrix(np.random.default_rng(0).normal(0.0, 0.3, (3, sk.num_joints, 3)))
    root = np.array([[0.0, 1.0, 0.0], [0.1, 1.0, 0.0], [0.2, 1.0, 0.0]])
    pos, _ = forward_kinematics(rot, sk.offsets, sk.parents, root)
    motion = posecast.Motion(pos, 30.0, sk, rotations=rot, root_translation=root)
    back = posecast.load(posecast.save(motion, tmp_path / "walk.bvh"))
    assert back.skeleton.name == name and back.skeleton.same_layout(sk)
    np.testing.assert_allclose(back.positions, motion.positions, atol=1e-9)
    np.testing.assert_allclose(back.rotations, motion.rotations, atol=1e-9)
