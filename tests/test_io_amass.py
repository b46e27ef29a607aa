"""AMASS .npz reader: axis change, FK on the mean-shape smplh-22 body, sniffing and bad files.

No AMASS data can be shipped or downloaded, so every file is written here with the AMASS layout.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posecast
from posecast import skeletons
from posecast.errors import FormatError, PosecastError
from posecast.io import detect_format
from posecast.io.amass import Z_UP_TO_Y_UP, is_amass_npz
from posecast.kinematics import axis_angle_to_matrix, forward_kinematics
from posecast.skeletons.smpl import SMPL_MEAN_OFFSETS_M

SKEL = skeletons.get("smplh-22")
REST = SKEL.rest_positions()
J = {n: i for i, n in enumerate(SKEL.joint_names)}
STAND = (np.pi / 2, 0.0, 0.0)  # AMASS root orientation of an upright subject: body y (up) -> world z


def _write(path, frames=4, width=156, fps=120.0, root=(0.0, 0.0, 0.0), trans=(0.0, 0.0, 0.0), **override):
    poses = np.zeros((frames, width))
    poses[:, :3] = root
    if trans is not None:
        trans = np.asarray(trans, float)
        trans = np.tile(trans, (frames, 1)) if trans.ndim == 1 else trans
    arrays = {
        "poses": poses,
        "trans": trans,
        "mocap_framerate": np.array(fps),
        "betas": np.linspace(-1, 1, 16),
        "gender": np.array("female"),
        "dmpls": np.zeros((frames, 8)),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _y_up(points_z_up):
    """Hand-written axis change: (x, y, z) z-up -> (x, z, -y) y-up."""
    p = np.asarray(points_z_up, float)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def test_axis_change_is_minus_90_degrees_about_x():
    np.testing.assert_allclose(Z_UP_TO_Y_UP, axis_angle_to_matrix(np.array([-np.pi / 2, 0, 0])), atol=1e-15)
    np.testing.assert_allclose(Z_UP_TO_Y_UP @ [0, 0, 1.0], [0, 1, 0])  # AMASS up is PoseCast up


def test_zero_pose_is_the_rest_pose_plus_trans(tmp_path):
    trans = (0.5, -1.25, 0.8)
    m = posecast.load(_write(tmp_path / "zero.npz", trans=trans))
    assert m.skeleton.name == "smplh-22" and m.num_frames == 4 and m.fps == 120.0
    want = _y_up(REST + np.array(trans))  # the body lies along AMASS's y axis, i.e. along -z here
    for t in range(4):
        np.testing.assert_allclose(m.positions[t], want, atol=1e-12)
    np.testing.assert_allclose(m.root_translation, np.tile([0.5, 0.8, 1.25], (4, 1)), atol=1e-15)
    head = m.positions[0, J["head"]]
    np.testing.assert_allclose(head, [0.5 + REST[J["head"], 0], 0.8 + REST[J["head"], 2], 1.25 - 0.61896518], atol=1e-8)


def test_standing_rest_pose_has_the_head_above_the_pelvis_along_plus_y(tmp_path):
    m = posecast.load(_write(tmp_path / "stand.npz", root=STAND, trans=(1.0, 2.0, 0.9)))
    pelvis, head = m.positions[0, J["pelvis"]], m.positions[0, J["head"]]
    np.testing.assert_allclose(pelvis, [1.0, 0.9, -2.0], atol=1e-12)
    assert head[1] - pelvis[1] == pytest.approx(0.61896518, abs=1e-8)  # sum of the spine/neck/head y offsets
    # upright and facing +z with the left side at +x: exactly the body's own rest pose, moved
    np.testing.assert_allclose(m.positions[0], REST + pelvis, atol=1e-12)
    assert m.positions[0, J["left_hip"], 0] > pelvis[0] > m.positions[0, J["right_hip"], 0]
    assert m.positions[0, J["left_foot"], 2] > m.positions[0, J["left_ankle"], 2]
    np.testing.assert_allclose(m.rotations[0, 0], np.eye(3), atol=1e-15)


@pytest.mark.parametrize("root", [STAND, (0.0, 0.0, 0.0)])
def test_a_90_degree_elbow_bend_moves_the_wrist_as_computed_by_hand(tmp_path, root):
    frames = 3
    poses = np.zeros((frames, 156))
    poses[:, :3] = root
    poses[:, 3 * J["left_elbow"] + 1] = np.pi / 2  # 90 degrees about the body's y axis
    m = posecast.load(_write(tmp_path / "elbow.npz", frames=frames, poses=poses))
    o = SMPL_MEAN_OFFSETS_M[J["left_wrist"]]  # (0.26570925, 0.01269811, -0.00737473)
    bent = np.array([o[2], o[1], -o[0]])  # Ry(90deg) @ o: x -> -z, z -> x
    np.testing.assert_allclose(bent, [-0.00737473, 0.01269811, -0.26570925])
    elbow_body = REST[J["left_elbow"]]
    wrist_body = elbow_body + bent
    if root == STAND:  # the body frame is the PoseCast frame
        want_wrist, want_elbow = wrist_body, elbow_body
    else:  # body lying in AMASS's world: then the axis change
        want_wrist, want_elbow = _y_up(wrist_body), _y_up(elbow_body)
    np.testing.assert_allclose(m.positions[:, J["left_wrist"]], np.tile(want_wrist, (frames, 1)), atol=1e-12)
    np.testing.assert_allclose(m.positions[:, J["left_elbow"]], np.tile(want_elbow, (frames, 1)), atol=1e-12)
    moved = np.flatnonzero(
        np.abs(m.positions[0] - posecast.load(_write(tmp_path / "r.npz", root=root)).positions[0]).max(-1) > 1e-12
    )
    assert moved.tolist() == [J["left_wrist"]]  # a leaf of smplh-22: nothing else moves
    assert np.linalg.norm(want_wrist - want_elbow) == pytest.approx(np.linalg.norm(o))


def test_frame_rate_and_metadata(tmp_path):
    m = posecast.load(_write(tmp_path / "f.npz", frames=10, fps=59.94))
    assert m.fps == pytest.approx(59.94) and m.duration == pytest.approx(9 / 59.94)
    assert m.metadata["gender"] == "female" and m.metadata["format"] == "amass"
    assert "betas (16 values)" in m.metadata["ignored"] and m.metadata["source"].endswith("f.npz")
    smplx = _write(tmp_path / "x.npz", width=165, mocap_framerate=None, mocap_frame_rate=np.array(30.0))
    assert posecast.load(smplx).fps == 30.0  # the SMPL-X release spells the key differently


@pytest.mark.parametrize("width", [66, 72, 165])
def test_other_pose_widths_read_the_same_body(tmp_path, width):
    rng = np.random.default_rng(width)
    body = rng.uniform(-1, 1, size=(5, 66))
    full = np.concatenate([body, rng.uniform(-1, 1, size=(5, 90))], axis=1)
    other = np.concatenate([body, rng.uniform(-1, 1, size=(5, width - 66))], axis=1)
    a = posecast.load(_write(tmp_path / "a.npz", frames=5, poses=full))
    b = posecast.load(_write(tmp_path / "b.npz", frames=5, width=width, poses=other))
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-12)
    assert b.metadata["pose_width"] == width


def test_the_split_smplx_layout_reads_the_same_body(tmp_path):
    """AMASS's SMPL-X release and other SMPL-X exports store ``root_orient`` (T, 3) and ``pose_body`` (T, 63)
    instead of ``poses``, with ``mocap_frame_rate`` and the hands, jaw and eyes apart."""
    rng = np.random.default_rng(3)
    body = rng.uniform(-1, 1, size=(5, 66))
    a = posecast.load(_write(tmp_path / "a.npz", frames=5, width=66, poses=body))
    split = {"root_orient": body[:, :3], "pose_body": body[:, 3:], "pose_hand": rng.uniform(-1, 1, (5, 90))}
    split |= {"pose_jaw": np.zeros((5, 3)), "pose_eye": np.zeros((5, 6)), "surface_model_type": np.array("smplx")}
    b = posecast.load(_write(tmp_path / "b.npz", frames=5, poses=None, mocap_framerate=None, **split,
                             mocap_frame_rate=np.array(120.0)))  # fmt: skip
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-12)
    assert b.fps == 120.0
    bad = _write(tmp_path / "c.npz", frames=5, poses=None, root_orient=body[:, :3], pose_body=body[:4, 3:])
    with pytest.raises(FormatError, match="'root_orient' has 5 frames and 'pose_body' 4") as info:
        posecast.load(bad)
    assert str(bad) in str(info.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**31 - 1))
def test_fk_is_consistent_and_rigid(tmp_path, seed):
    rng = np.random.default_rng(seed)
    poses = rng.uniform(-np.pi, np.pi, size=(4, 156))
    trans = rng.normal(size=(4, 3))
    m = posecast.load(_write(tmp_path / "r.npz", poses=poses, trans=trans))
    again, _ = forward_kinematics(m.rotations, SKEL.offsets, SKEL.parents, m.root_translation)
    np.testing.assert_allclose(again, m.positions, atol=1e-12)
    bones = np.linalg.norm(m.positions[:, 1:] - m.positions[:, SKEL.parent_array[1:]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(SKEL.bone_lengths(), bones.shape), atol=1e-12)
    # the axis change is a rigid rotation of the whole z-up result
    rot_z = axis_angle_to_matrix(poses[:, :66].reshape(4, 22, 3))
    pos_z, _ = forward_kinematics(rot_z, SKEL.offsets, SKEL.parents, trans)
    np.testing.assert_allclose(m.positions, _y_up(pos_z), atol=1e-12)
    np.testing.assert_allclose(m.rotations[:, 0], Z_UP_TO_Y_UP @ rot_z[:, 0], atol=1e-12)
    np.testing.assert_allclose(m.rotations[:, 1:], rot_z[:, 1:], atol=1e-15)


def test_gender_in_any_storage(tmp_path):
    assert posecast.load(_write(tmp_path / "b.npz", gender=np.array(b"male"))).metadata["gender"] == "male"
    pickled = _write(tmp_path / "o.npz", gender=np.array(["neutral"], dtype=object))  # needs pickle to read
    assert posecast.load(pickled).metadata["gender"] == "unknown"  # never unpickled, not needed
    assert posecast.load(_write(tmp_path / "n.npz", gender=None)).metadata["gender"] == "unknown"


# -------------------------------------------------------------------------------------- sniffing
def test_amass_files_are_detected_and_posecast_npz_are_not(tmp_path):
    amass = _write(tmp_path / "walk_poses.npz")
    assert is_amass_npz(amass) and detect_format(amass).name == "amass"
    ours = posecast.save(posecast.load(amass), tmp_path / "ours.npz")
    assert not is_amass_npz(ours) and detect_format(ours).name == "npz"
    back = posecast.load(ours)
    assert back.skeleton.name == "smplh-22" and back.metadata["format"] == "amass"
    odd_suffix = _write(tmp_path / "motion.bin")
    assert detect_format(odd_suffix).name == "amass"  # by content
    shape_file = tmp_path / "shape.npz"  # AMASS folders also hold shape.npz (betas, gender only)
    np.savez(shape_file, betas=np.zeros(16), gender=np.array("male"))
    assert not is_amass_npz(shape_file)
    with pytest.raises(FormatError, match="missing array 'poses'"):
        posecast.load(shape_file, format="amass")


def test_sniffing_reads_only_the_zip_directory(tmp_path):
    path = tmp_path / "corrupt_members.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("poses.npy", b"not an array at all")
        zf.writestr("trans.npy", b"neither")
    assert is_amass_npz(path) and detect_format(path).name == "amass"  # arrays never parsed to decide
    with pytest.raises(FormatError) as info:
        posecast.load(path)
    assert str(path) in str(info.value)
    (tmp_path / "text.npz").write_text("hello")
    assert not is_amass_npz(tmp_path / "text.npz") and not is_amass_npz(tmp_path / "missing.npz")


# ------------------------------------------------------------------------------------- bad files
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"trans": None}, "missing array 'trans'"),
        ({"poses": None}, "missing array 'poses'"),
        ({"mocap_framerate": None}, "missing 'mocap_framerate'"),
        ({"poses": np.zeros((4, 100))}, r"'poses' has shape \(4, 100\); expected \(T, P\) with P one of 156"),
        ({"poses": np.zeros(156)}, r"'poses' has shape \(156,\)"),
        ({"poses": np.zeros((0, 156)), "trans": np.zeros((0, 3))}, "no frames"),
        ({"trans": np.zeros((3, 3))}, r"'trans' has shape \(3, 3\); expected \(4, 3\)"),
        ({"trans": np.zeros((4, 2))}, r"'trans' has shape \(4, 2\)"),
        ({"poses": np.full((4, 156), np.nan)}, r"'poses' contains NaN or inf \(first at index \(0, 0\)\)"),
        (
            {"trans": np.array([[0, 0, 0]] * 3 + [[0, np.inf, 0]])},
            r"'trans' contains NaN or inf \(first at index \(3, 1\)\)",
        ),
        ({"mocap_framerate": np.array(0.0)}, "'mocap_framerate' is 0.0, not a frame rate"),
        ({"mocap_framerate": np.array(np.nan)}, "not a frame rate"),
        ({"mocap_framerate": np.array([120.0, 60.0])}, "expected a single number"),
        ({"poses": np.array([["a"] * 156] * 4)}, "non-real dtype"),
        ({"poses": np.empty((4, 156), dtype=object)}, "cannot be read without unpickling"),
    ],
)
def test_bad_files_are_format_errors_naming_the_file(tmp_path, override, message):
    path = _write(tmp_path / "bad.npz", **override)
    with pytest.raises(FormatError, match=message) as info:
        posecast.load(path, format="amass")
    assert str(info.value).startswith(str(path))


def test_an_amass_file_without_trans_found_by_content_says_what_it_lacks(tmp_path):
    path = _write(tmp_path / "no_trans.npz", trans=None)  # not detected as AMASS (poses and trans make it so)
    with pytest.raises(FormatError, match=r"an AMASS file needs 'poses' .* and 'trans'"):
        posecast.load(path)


def test_an_amass_file_without_poses_says_what_it_lacks(tmp_path):
    """QA: trans and mocap_framerate without poses were told "missing 'skeleton' ... written by posecast?"."""
    path = _write(tmp_path / "no_poses.npz", poses=None)
    with pytest.raises(FormatError, match=r"an AMASS file needs 'poses' .* and 'trans'"):
        posecast.load(path)


def test_not_an_archive(tmp_path):
    single = tmp_path / "single.npz"
    with open(single, "wb") as fh:
        np.save(fh, np.zeros((3, 156)))
    with pytest.raises(FormatError, match="single numpy array"):
        posecast.load(single, format="amass")
    text = tmp_path / "t.npz"
    text.write_text("poses,trans\n")
    with pytest.raises(FormatError, match="not a readable .npz archive"):
        posecast.load(text, format="amass")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_garbage_is_always_a_posecast_error(tmp_path, blob):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"PK\x03\x04" + blob)
    for fmt in ("amass", None):
        try:
            posecast.load(path, format=fmt)
        except PosecastError:
            pass


def test_amass_reading_options(tmp_path):
    """QA: ``fps=`` / ``skeleton=`` / unknown options were ignored without a word, and complex arrays read with
    their imaginary part dropped. ``fps`` now overrides ``mocap_framerate``, the others are refused."""
    from posecast.errors import ValueRangeError
    from posecast.io.reading import load_motion

    path = _write(tmp_path / "a.npz")
    assert posecast.load(path).fps == 120.0 and load_motion(path, fps=60).fps == 60.0
    with pytest.raises(ValueRangeError, match="skeleton= does not apply to an AMASS file"):
        load_motion(path, skeleton="cmu-bvh-31")
    with pytest.raises(ValueRangeError, match="unknown option.*bogus"):
        posecast.load(path, bogus=1)
    with pytest.raises(FormatError, match="'poses' has non-real dtype complex"):
        posecast.load(_write(tmp_path / "c.npz", poses=np.zeros((4, 156), dtype=complex)))
