"""``charpose`` on anyone's skeleton: a network on the canonical body (``smplh-22``) forecasts key poses on a
CMU BVH skeleton and on a rig with a world root, through `posecast.skeletons.canonical.retarget`; the K
hypotheses come back on the user's joints with probabilities; ``posecast forecast --model charpose``
writes them (.json / .npz with ``probabilities``, .bvh, pictures side by side) and refuses bad input in
one line. Tiny untrained networks (no training) keep every test fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posecast
from posecast import models, skeletons
from posecast.errors import SkeletonError, ValueRangeError
from posecast.keyposes.forecaster import KeyPoseForecaster, hypotheses_motion
from posecast.keyposes.model import CharPoseConfig, CharPoseNet, save_charpose
from posecast.keyposes.refine import RefineConfig
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import NAMES, retarget
from posecast.synthetic import synthetic_walk

CMU = skeletons.get("cmu-bvh-31")
K = 5
#: float32 observed windows (what the network takes): positions of about 1 m carry ~1e-7 m of rounding,
#: a few operations later well under 10 µm; everything the mapping owns is exact to that
EXACT_M = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_canonical() -> CharPoseNet:
    """An untrained 8^3-voxel network on the canonical body (right and left wrists sampled first)."""
    torch.manual_seed(0)
    cfg = CharPoseConfig(
        skeleton="smplh-22", grid_size=8, sigma=1.0, kernel_size=3, embed_dim=16, feedforward=32, dropout=0.0,
        decoder_start=2, decoder_channels=[8, 8, 8], decoder_convs=[0, 1, 0], samples=4,
        lead_joints=["right_wrist", "left_wrist"], refinement=RefineConfig(steps=10),
    )  # fmt: skip
    return CharPoseNet(cfg).eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charpose") / "w"
    save_charpose(tiny_canonical(), folder)
    return folder


@pytest.fixture(scope="module")
def walk() -> Motion:
    return synthetic_walk(seconds=2.0, fps=30.0)


def rooted_walk(walk: Motion) -> Motion:
    """The walk on a rig with a world root at the floor origin above ``Hips`` (like Bandai's ``joint_Root``)."""
    names = ("joint_Root", *CMU.joint_names)
    parents = (-1, 0, *(p + 1 for p in CMU.parents[1:]))
    offsets = np.vstack([np.zeros((1, 3)), CMU.offsets])
    offsets[1] = [0.0, 0.9, 0.0]
    pairs = tuple((a + 1, b + 1) for a, b in CMU.left_right)
    skel = Skeleton("rooted-walk", names, parents, offsets, pairs)
    pos = np.concatenate([np.zeros((walk.num_frames, 1, 3)), walk.positions], axis=1)
    return Motion(pos, walk.fps, skel, metadata={"source": "rooted.bvh"})


def bones(pose: np.ndarray, skel: Skeleton, skip: set[int] = frozenset()) -> np.ndarray:
    """``(..., B)`` lengths of the bones (joint, parent) with neither end in ``skip``."""
    pairs = [(j, p) for j, p in enumerate(skel.parents) if p >= 0 and j not in skip and p not in skip]
    idx = np.array(pairs)
    return np.linalg.norm(pose[..., idx[:, 0], :] - pose[..., idx[:, 1], :], axis=-1)


# --------------------------------------------------------------------------------- the forecaster
def test_a_canonical_network_forecasts_on_a_cmu_bvh_skeleton(weights, walk):
    fc = models.get("charpose", weights=weights).forecast(walk, samples=K)
    j = CMU.num_joints
    assert fc.skeleton.same_layout(CMU) and fc.samples.shape == (K, 1, j, 3) and np.isfinite(fc.samples).all()
    p = fc.probabilities
    assert p.shape == (K,) and p.sum() == pytest.approx(1.0, abs=1e-9) and (p > 0).all()
    assert (np.diff(p) <= 0).all()  # most probable first
    meta = fc.metadata
    assert meta["network_skeleton"] == "smplh-22" and meta["canonical_body"] == "smplh-22"
    assert meta["static_joints"] == [] and meta["mapping"]["head"] == {"Head": 1.0}
    # the true next key pose is mined the way the corpus key poses the network learnt were
    assert meta["mining"] == {"reference_s": 1.5, "prominence": 0.03}
    # the observed window: the last 10 frames at the network's 25 fps, on the user's joints (resampled rigidly)
    clip = walk.resample_rigid(25.0)
    np.testing.assert_allclose(fc.history.positions, clip.positions[-10:], atol=1e-9)
    assert fc.history.skeleton.same_layout(CMU) and meta["last_observed_time_s"] == pytest.approx(
        (clip.num_frames - 1) / 25
    )
    # anchor: the canonical pelvis (= Hips here) of the last observed frame; root_relative on the user's joints
    rt = retarget(CMU)
    last = fc.history.positions[-1]
    np.testing.assert_allclose(meta["anchor"], last[CMU.index("Hips")], atol=1e-12)
    np.testing.assert_allclose(meta["root_weights"] @ last, meta["anchor"], atol=1e-12)
    lift = meta["grounded_m"][:, None, None] * meta["up_vector"]  # each hypothesis stood on the observed floor
    np.testing.assert_allclose((fc.samples[:, 0] @ meta["up_vector"]).min(-1), meta["floor_m"], atol=1e-9)
    np.testing.assert_allclose(meta["root_relative"], fc.samples[:, 0] - lift - meta["anchor"], atol=1e-12)
    # the network saw the mapped window: the same hypotheses again from the canonical window by hand
    f = models.get("charpose", weights=weights)
    rel, prob, _, _ = f.hypotheses(rt.to_canonical(fc.history.positions.astype(np.float32)), K, seed=0)
    np.testing.assert_allclose(meta["canonical_hypotheses"], rel + meta["anchor"], atol=EXACT_M)
    np.testing.assert_allclose(prob, p, atol=1e-9)
    # mapped back: every bone of the user's rig at its observed length (the untrained network's canonical
    # poses have other proportions; a rig's bones do not stretch with them) ...
    world, canon = fc.samples[:, 0] - lift, meta["canonical_hypotheses"]  # as placed at the anchor
    np.testing.assert_allclose(bones(world, CMU), np.broadcast_to(bones(last, CMU), (K, 30)), atol=EXACT_M)
    np.testing.assert_allclose(world[:, CMU.index("Hips")], canon[:, NAMES.index("pelvis")], atol=1e-9)
    # ... pointing where the canonical pose points: a bone between two joints that are each the only source
    # of a canonical joint has the direction of that canonical bone
    one_to_one = {next(iter(w)): c for c, w in rt.assignment.items() if len(w) == 1}
    pairs = [
        (j, p) for j, p in enumerate(CMU.parents) if p >= 0 and CMU.joint_names[j] in one_to_one
        and CMU.joint_names[p] in one_to_one
    ]  # fmt: skip
    assert len(pairs) >= 8
    for j, p in pairs:
        cj, cp = (NAMES.index(one_to_one[CMU.joint_names[x]]) for x in (j, p))
        d_world, d_canon = world[:, j] - world[:, p], canon[:, cj] - canon[:, cp]
        cos = (d_world * d_canon).sum(-1) / np.linalg.norm(d_world, axis=-1) / np.linalg.norm(d_canon, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-6)


def _fake_hypotheses(self, window, samples, seed=0, history=None):
    """Stand-in for the network: the last observed canonical pose (root-relative), the same turned 40
    degrees about the vertical, and the same with the right forearm swung 70 degrees about the shoulder."""
    pose = window[-1].astype(np.float64) - window[-1, 0]
    c, s = np.cos(np.radians(40)), np.sin(np.radians(40))
    yaw = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    a = np.radians(70)
    swing = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    raised = pose.copy()
    sh = NAMES.index("right_shoulder")
    for name in ("right_elbow", "right_wrist"):
        raised[NAMES.index(name)] = pose[sh] + (pose[NAMES.index(name)] - pose[sh]) @ swing.T
    return np.stack([pose, pose @ yaw.T, raised]), np.array([0.5, 0.3, 0.2]), False, None


@pytest.mark.parametrize("rooted", [False, True], ids=["cmu-bvh", "world-root"])
def test_canonical_poses_map_back_with_the_users_bones(weights, walk, monkeypatch, rooted):
    monkeypatch.setattr(KeyPoseForecaster, "hypotheses", _fake_hypotheses)
    motion = rooted_walk(walk) if rooted else walk
    skel = motion.skeleton
    fc = models.get("charpose", weights=weights).forecast(motion, samples=3)
    static = {skel.index(n) for n in fc.metadata["static_joints"]}
    assert static == ({0} if rooted else set())  # the world root is found and left where it was
    moved = [j for j in range(skel.num_joints) if j not in static]  # stood on the floor (world roots are not)
    lift = fc.metadata["grounded_m"][:, None, None] * fc.metadata["up_vector"]
    world, last, anchor = fc.samples[:, 0].copy(), fc.history.positions[-1], fc.metadata["anchor"]
    world[:, moved] -= lift  # taken off again: as placed at the anchor
    floor = (fc.samples[:, 0, moved] @ fc.metadata["up_vector"]).min(-1)
    np.testing.assert_allclose(floor, fc.metadata["floor_m"], atol=1e-9)  # the body's lowest joint on the floor
    # the observed pose predicted: every joint comes back where it was observed
    np.testing.assert_allclose(world[0], last, atol=EXACT_M)
    # turned about the vertical through the anchor: every joint turns with it (but the world root)
    c, s = np.cos(np.radians(40)), np.sin(np.radians(40))
    yaw = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    turned = (last - anchor) @ yaw.T + anchor
    body = [j for j in range(skel.num_joints) if j not in static]
    np.testing.assert_allclose(world[1][body], turned[body], atol=EXACT_M)
    np.testing.assert_allclose(world[1][sorted(static)], last[sorted(static)], atol=1e-12)
    # the forearm swung: every bone keeps the user's length, the left arm does not move, the hand does
    np.testing.assert_allclose(bones(world[2], skel, static), bones(last, skel, static), atol=EXACT_M)
    for name in ("LeftHand", "LeftFingerBase", "LThumb", "RightArm"):
        np.testing.assert_allclose(world[2][skel.index(name)], last[skel.index(name)], atol=EXACT_M)
    for name in ("RightHand", "RightFingerBase", "RThumb"):
        assert np.linalg.norm(world[2][skel.index(name)] - last[skel.index(name)]) > 0.1


def test_binding_mappings_and_own_skeleton_networks(weights, walk):
    f = models.get("charpose", weights=weights)
    bound = f.on_skeleton(CMU)
    assert bound.retarget is not None and f.on_skeleton(CMU) is bound and bound.on_skeleton(CMU) is bound
    # an explicit mapping reaches the key-pose model through the API (as --mapping and the server pass it)
    fc = posecast.api.forecast_motion(f, walk, samples=2, mapping={"spine2": "Spine1"})
    assert fc.metadata["mapping"]["spine2"] == {"Spine1": 1.0}
    assert posecast.api.forecast_motion(f, walk, samples=2).metadata["mapping"]["spine2"] == {"Spine": 1.0}
    with pytest.raises(SkeletonError, match="NoSuchJoint"):
        f.on_skeleton(CMU, {"head": "NoSuchJoint"})
    # a history on the canonical body itself needs no mapping
    smplh = Motion(retarget(CMU).to_canonical(walk.positions), walk.fps, "smplh-22")
    assert f.on_skeleton("smplh-22") is f
    assert "canonical_body" not in f.forecast(smplh, samples=2).metadata
    # a network on its own skeleton takes that layout only, and says which weights work anywhere
    cfg = CharPoseConfig(
        skeleton="cmu-bvh-31", grid_size=8, decoder_start=2, decoder_channels=[8, 8, 8], decoder_convs=[0, 1, 0]
    )
    own = KeyPoseForecaster(CharPoseNet(cfg))
    assert own.on_skeleton(CMU) is own and own.retarget is None
    assert own.mining() == {}  # trained on key poses of the default criterion (charpose/cmu-bvh)
    with pytest.raises(SkeletonError, match="smplh-22"):
        own.forecast(smplh)
    with pytest.raises(ValueRangeError, match="observes 10") as err:
        f.forecast(walk.frames(0, 8))
    # the file's own frames and rate, then the model's (QA: counted at the model's 25 fps, beside a 30 fps file)
    assert f"(8 frames at {walk.fps:g} fps); model 'charpose' observes 10 frames at 25 fps" in str(err.value)
    # an untrained network (no weights) is on the canonical body too
    assert models.get("charpose", pretrained=False).on_skeleton(CMU).retarget is not None


def test_hypotheses_motion_is_observed_then_one_frame_per_hypothesis(weights, walk, monkeypatch):
    monkeypatch.setattr(KeyPoseForecaster, "hypotheses", _fake_hypotheses)
    fc = models.get("charpose", weights=weights).forecast(walk, samples=3)
    m = hypotheses_motion(fc)
    assert m.num_frames == 10 + 3 and m.rotations is not None and m.skeleton.same_layout(CMU)
    assert m.metadata["observed_frames"] == 10 and m.metadata["hypotheses"] == 3
    assert m.metadata["probabilities"] == pytest.approx([0.5, 0.3, 0.2])
    # these hypotheses keep the skeleton's bones, so forward kinematics reproduces them (to IK precision)
    np.testing.assert_allclose(m.positions[10:], fc.samples[:, 0], atol=1e-3)
    np.testing.assert_allclose(m.positions[:10], fc.history.positions, atol=1e-3)


def test_bvh_of_hypotheses_moves_only_the_root_and_times_the_last_frame(weights, tmp_path):
    """A 30 fps clip whose end is off the network's 25 fps grid: the window ends at its last frame (time = its
    duration, not the 25 fps grid's last step), and the hypotheses' BVH keeps the rig rigid — position channels
    on the root only (the observed frames are resampled rigidly, the hypotheses keep the rig's bones)."""
    clip = synthetic_walk(seconds=2.1, fps=30.0)  # 64 frames: 2.1 s; at 25 fps counted back from the end
    fc = models.get("charpose", weights=weights).forecast(clip, samples=3)
    assert fc.metadata["last_observed_time_s"] == pytest.approx(clip.duration)
    out = tmp_path / "h.bvh"
    posecast.save(hypotheses_motion(fc), out)
    assert out.read_text().count("CHANNELS 6") == 1


# ------------------------------------------------------------------------------------------ the CLI
def test_cli_writes_probabilities_pictures_and_bvh_on_the_users_skeleton(cli, weights, walk, tmp_path):
    clip = tmp_path / "walk.bvh"
    posecast.save(walk, clip)
    outs = [tmp_path / n for n in ("f.json", "f.npz", "f.bvh", "f.png", "f.html")]
    code, stdout, err = cli(
        "forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", str(K), "--at", "1.2",
        *[a for o in outs for a in ("--out", str(o))],
    )  # fmt: skip
    assert code == 0, err
    assert "(charpose on cmu-bvh-31, via smplh-22)" in " ".join(stdout.split())
    d = json.loads(outs[0].read_text())
    probs = d["probabilities"]
    assert len(probs) == K and sum(probs) == pytest.approx(1.0) and probs == sorted(probs, reverse=True)
    assert [h["probability"] for h in d["hypotheses"]] == probs
    assert d["joint_names"] == list(walk.skeleton.joint_names) and d["canonical_body"] == "smplh-22"
    assert d["network_skeleton"] == "smplh-22" and d["mapping"]["pelvis"] == {"Hips": 1.0}
    h0 = np.array(d["hypotheses"][0]["positions"])
    assert h0.shape == (CMU.num_joints, 3)
    lift0 = d["grounded_m"][0] * np.array(d["up_vector"])  # stood on the observed floor
    np.testing.assert_allclose(h0 - lift0 - np.array(d["anchor"]), d["hypotheses"][0]["root_relative"], atol=2e-6)
    truth = d["true_keypose"]
    assert truth is not None
    assert truth["best_of_k_mpjpe_m"] == pytest.approx(min(h["mpjpe_m"] for h in d["hypotheses"]))
    with np.load(outs[1], allow_pickle=False) as z:
        assert z["probabilities"].shape == (K,) and z["probabilities"].tolist() == pytest.approx(probs)
        assert z["hypotheses"].shape == (K, CMU.num_joints, 3) and z["canonical_hypotheses"].shape == (K, 22, 3)
    back = posecast.load(outs[2])
    assert back.num_frames == 10 + K and back.skeleton.joint_names == walk.skeleton.joint_names
    from PIL import Image

    with Image.open(outs[3]) as im:
        assert im.size == (1600, 900)
    html = outs[4].read_text()
    assert all(f"#{i} · p " in html for i in range(1, K + 1)) and "true next key pose" in html
    assert '"scene6"' in html and '"scene8"' not in html  # observed + truth + K panels, one scene each
    # both documents load back with what the drawing needs, and `posecast render` draws them as key poses
    json_fc, npz_fc = posecast.load(outs[0]), posecast.load(outs[1])
    for fc in (json_fc, npz_fc):
        assert fc.skeleton.left_right == walk.skeleton.left_right and fc.metadata["kind"] == "keyposes"
        assert fc.metadata["source"] == str(clip) and fc.metadata["up_axis"] == "+y"
        assert fc.metadata["last_observed_time_s"] == pytest.approx(d["last_observed_time_s"])
        assert fc.metadata["true_keypose_time_s"] == pytest.approx(truth["time_s"])
        errors = [h["mpjpe_m"] for h in d["hypotheses"]]
        np.testing.assert_allclose(fc.metadata["true_keypose_errors_m"], errors, atol=1e-9)
    # the truth as drawn: at the anchor, lifted by as much as puts its lowest joint on the observed floor
    from posecast.keyposes.forecaster import shown_truth

    shown = shown_truth(json_fc)
    rel = np.asarray(truth["root_relative"]) + np.array(d["anchor"])
    lift = shown - rel
    np.testing.assert_allclose(lift, np.broadcast_to(lift[0], lift.shape), atol=1e-9)  # one move, along up
    assert (shown @ np.array(d["up_vector"])).min() == pytest.approx(d["floor_m"], abs=1e-6)
    np.testing.assert_allclose(shown_truth(npz_fc), shown, atol=1e-5)
    again = tmp_path / "again.html"
    code, _, err = cli("render", str(outs[0]), "--out", str(again))
    assert code == 0, err
    page = again.read_text()
    assert all(f"#{i} · p " in page for i in range(1, K + 1)) and "true next key pose" in page


def test_cli_refuses_a_too_short_history_in_one_line(cli, weights, walk, tmp_path):
    clip = tmp_path / "short.bvh"
    posecast.save(walk.frames(0, 9), clip)  # 0.27 s: 7 frames at 25 fps, the model observes 10
    out = tmp_path / "f.json"
    code, _, err = cli("forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--out", str(out))
    assert code == 2 and "observes 10" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    code, _, err = cli("forecast", str(clip), "--model", "charpose", "--out", str(tmp_path / "f.csv"))
    assert code == 2 and "cannot write .csv" in err


# ------------------------------------------------------------------------------------- the pictures
def test_hypotheses_are_drawn_most_probable_first_labelled_with_probabilities(walk, monkeypatch, tmp_path):
    from posecast.keyposes import render as kr
    from posecast.motion import Forecast

    window = walk.resample(25.0).frames(0, 10)
    poses = window.positions[-1] + np.array([0.0, 0.0, 0.1])[None, None] * np.arange(3)[:, None, None]
    fc = Forecast(
        poses[:, None], 25.0, CMU, probabilities=np.array([0.2, 0.5, 0.3]), history=window, model="charpose",
        metadata={"last_observed_time_s": 0.36, "static_joints": ["Hips"]},
    )  # fmt: skip
    seen = {}
    monkeypatch.setattr(kr, "render_panels", lambda panels, skel, path, **kw: seen.update(panels=panels, **kw))
    truth = window.positions[0]
    kr.render_keypose_forecast(fc, tmp_path / "f.png", truth=truth, truth_time_s=0.8, errors=np.array([0.3, 0.1, 0.2]))
    labels = [p.label for p in seen["panels"]]
    assert labels == [
        "observed\nt = 0.36 s",
        "true next key pose\nt = 0.80 s (+0.44 s)",
        "#1 · p = 0.50\nMPJPE 0.10 m",
        "#2 · p = 0.30\nMPJPE 0.20 m",
        "#3 · p = 0.20\nMPJPE 0.30 m",
    ]
    np.testing.assert_array_equal(seen["panels"][0].positions, window.positions)  # the window plays
    np.testing.assert_array_equal(seen["panels"][2].positions[0], poses[1])  # p = 0.5 first
    np.testing.assert_array_equal(seen["panels"][2].ghost, window.positions[-1])  # the last observed pose behind
    assert seen["panels"][1].dashed and seen["hidden"] == [CMU.index("Hips")]
    assert len(seen["frame_labels"]) == 10 and seen["frame_labels"][-1] == "t =  0.36 s  observed"
    assert "true next key pose at t = 0.80 s" in seen["subtitle"]
    assert kr.probability_text(0.004) == "p = 0.004" and kr.probability_text(0.0004) == "p < 0.001"


def test_panels_share_one_box_hide_world_roots_and_play_then_hold(walk, tmp_path):
    from PIL import Image

    from posecast.errors import FormatError
    from posecast.viz import poses as vp

    rooted = rooted_walk(walk)
    pos = rooted.positions.copy()
    pos[:, 0] = [5.0, 0.0, 5.0]  # a world root metres away: neither drawn nor in the box
    ahead = pos[9] + [0.0, 0.0, 0.4]
    panels = [vp.Panel("observed", pos[:10]), vp.Panel("#1", ahead, ghost=pos[9])]
    lay = vp.layout(panels, rooted.skeleton, hidden=[0])
    drawn = np.concatenate([lay.left, lay.other])
    assert 0 not in drawn  # (zero-length helper bones such as LHipJoint are left out too)
    assert {rooted.skeleton.index(n) for n in ("Hips", "Head", "LeftHand", "RightToeBase")} <= set(drawn)
    body = np.concatenate([pos[:10, 1:], ahead[None, 1:]]).reshape(-1, 3)
    assert (lay.lo <= body.min(0)).all() and (body.max(0) <= lay.hi).all() and (lay.hi < 4.0).all()
    assert lay.floor == pytest.approx(pos[:10, 1:, 1].min()) and lay.frames == 10
    np.testing.assert_array_equal(lay.pose(0, 99), pos[9])  # a panel holds its last frame
    assert (lay.cols, lay.rows) == (2, 1)
    out = vp.render_panels(panels, rooted.skeleton, tmp_path / "p.gif", fps=25.0, hidden=[0], hold_s=0.2,
                           size=(160, 90))  # fmt: skip
    with Image.open(out) as im:  # the window plays (10 frames of 40 ms), then everything is held 0.2 s
        durations = []
        for f in range(im.n_frames):
            im.seek(f)
            durations.append(im.info["duration"])
    assert sum(durations) == 15 * 40 and durations[0] == 40  # (GIF merges the identical held frames)
    with pytest.raises(FormatError, match=".svg"):
        vp.render_panels(panels, rooted.skeleton, tmp_path / "p.svg", fps=25.0)
    with pytest.raises(ValueRangeError, match="at most 16"):
        vp.layout(panels * 9, rooted.skeleton)
    with pytest.raises(SkeletonError, match="do not fit"):
        vp.layout([vp.Panel("bad", pos[:2, :5])], rooted.skeleton)


def test_header_lines_wrap_to_the_figure_width_at_a_readable_size(walk):
    """The subtitle wraps between its facts onto rows that fit the width, at its own size; a fact too wide for a
    row of its own is drawn smaller, to 80 % at most, then shortened in the middle. It had been shrunk by a
    linear estimate that left the QA's 1280 px subtitle 1303 px wide (cut at both edges in the mp4), and a long
    file name about 7 px high."""
    from posecast.viz import poses as vp

    panels = [vp.Panel("observed", walk.positions[:10]), vp.Panel("#1", walk.positions[9])]
    lay = vp.layout(panels, walk.skeleton)
    facts = [
        "bvh-cmu_punch_mixamo (65 joints)", "forecast on smplh-22, mapped back", "most probable first",
        "grey: last observed pose", "green, dashed: true next key pose at t = 3.69 s",
    ]  # fmt: skip
    for size in ((1280, 720), (960, 540)):
        fig = vp._Figure(lay, size, "short title", " · ".join(facts), elev=10.0)
        renderer = fig.fig.canvas.get_renderer()
        title, subtitle = fig.fig.texts[:2]
        rows = subtitle.get_text().split("\n")
        assert len(rows) == 2 and " · ".join(rows) == " · ".join(facts)  # wrapped between facts, nothing lost
        scale = min(size[0] / 1280, size[1] / 720)
        assert subtitle.get_fontsize() == pytest.approx(11 * scale) and title.get_fontsize() == pytest.approx(
            15 * scale
        )
        for row in rows:
            subtitle.set_text(row)
            assert subtitle.get_window_extent(renderer=renderer).width <= 0.96 * size[0]
    one = "bvh-" + "x" * 300 + " (22 joints)"  # no room even alone: smaller, then shortened in the middle
    fig = vp._Figure(lay, (800, 450), "short title", one, elev=10.0)
    subtitle = fig.fig.texts[1]
    text = subtitle.get_text()
    assert subtitle.get_fontsize() == pytest.approx(0.8 * 11 * 800 / 1280)
    assert text.startswith("bvh-xxx") and text.endswith("x (22 joints)") and "…" in text and "\n" not in text
    assert subtitle.get_window_extent(renderer=fig.fig.canvas.get_renderer()).width <= 0.96 * 800


def test_a_rest_pose_before_the_motion_is_left_out_for_key_poses_too(weights, walk):
    from posecast.api import forecast_motion
    from posecast.models import get

    posed = walk.positions.copy()
    posed[0, 18:21] += [0.0, 0.8, 0.0]  # frame 0 a rest pose: 0.8 m off, 24 m/s to reach frame 1 at 30 fps
    shown = Motion(posed, walk.fps, walk.skeleton)
    model = get("charpose", weights=weights)
    fc = forecast_motion(model, shown, samples=4, at=1.0)
    same = forecast_motion(model, shown.frames(1), samples=4, at=1.0 - 1 / walk.fps)  # the same moment
    assert fc.metadata["history_starts_at_frame"] == 1 and same.metadata["history_starts_at_frame"] == 0
    # the last observed frame's time on the given motion's clock, as at is
    assert fc.metadata["last_observed_time_s"] == pytest.approx(same.metadata["last_observed_time_s"] + 1 / walk.fps)
    assert fc.metadata["last_observed_time_s"] == pytest.approx(1.0, abs=0.5 / walk.fps)
    np.testing.assert_allclose(fc.samples, same.samples, atol=EXACT_M)
    with pytest.raises(ValueRangeError, match="rest pose"):
        forecast_motion(model, shown, samples=4, at=0.5 / walk.fps)


def test_charpose_trains_on_a_folder_of_another_rig_without_the_data_sets(tmp_path, monkeypatch):
    """`posecast train --model charpose --config .../corpus.yaml --data FOLDER` on files of another rig (CMU names
    here) with no POSECAST_DATA: the files are mapped onto the canonical body, the timing proposals are fitted on
    them (not on the corpus), and the weights forecast; the CMU-skeleton config names the corpus config instead."""
    from pathlib import Path

    from posecast.synthetic import synthetic_walk
    from posecast.training.entry import run

    monkeypatch.delenv("POSECAST_DATA", raising=False)
    folder = tmp_path / "takes"
    folder.mkdir()
    posecast.save(synthetic_walk(seconds=8.0, fps=30.0), folder / "a.npz")
    posecast.save(synthetic_walk(seconds=8.0, fps=30.0, speed=1.0, cadence=0.7), folder / "b.npz")
    config = Path(posecast.__file__).parent / "configs" / "charpose" / "corpus.yaml"
    out = run("charpose", tmp_path / "run", config, data=str(folder), epochs=1, max_steps_per_epoch=2)
    info = json.loads((Path(out) / "run.json").read_text())
    assert info["proposals"]["pairs"] > 0 and (Path(out) / "best" / "proposals.safetensors").is_file()
    assert sorted(Path(f).name for f in info["data"]["files"]) == ["a.npz", "b.npz"]  # the files, hashed, named
    assert [Path(f).name for f in info["data"]["val_files"]] in (["a.npz"], ["b.npz"])
    fc = posecast.forecast(folder / "a.npz", model="charpose", weights=str(out))
    assert fc.num_samples == 10 and np.isfinite(fc.samples).all()
    from posecast.skeletons.canonical import retarget

    other = tmp_path / "canonical"
    other.mkdir()
    walk = synthetic_walk(seconds=8.0, fps=30.0)
    canonical = retarget(walk.skeleton).to_canonical(walk.positions)
    posecast.save(posecast.Motion(canonical, 30.0, "smplh-22"), other / "c.npz")
    with pytest.raises(SkeletonError, match="trains with a corpus config"):  # the CMU-skeleton network's config
        run("charpose", tmp_path / "run2", None, data=str(other), epochs=1, max_steps_per_epoch=2)


# ------------------------------------------------------------------- the true key pose on any rig
Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y-up world -> z-up world


def fingered(motion: Motion, curl_at: float = 2.5) -> Motion:
    """``motion`` (on ``cmu-bvh-31``) on a rig with five fingertip leaves per hand (no declared end effectors, as a
    BVH's rig has none), the fingers 8 cm past the hand along the forearm and curling 15 cm up and back around
    ``curl_at`` s: leaves that move while the body does not."""
    skel = motion.skeleton
    names, parents, offsets = list(skel.joint_names), list(skel.parents), [*skel.offsets]
    pos = [motion.positions]
    bump = 0.15 * np.exp(-0.5 * ((motion.times - curl_at) / 0.1) ** 2)
    for side in ("Left", "Right"):
        hand, fore = skel.index(f"{side}Hand"), skel.index(f"{side}ForeArm")
        along = motion.positions[:, hand] - motion.positions[:, fore]
        along /= np.linalg.norm(along, axis=-1, keepdims=True)
        for i, finger in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")):
            names.append(f"{side}Hand{finger}4")
            parents.append(hand)
            offsets.append(np.array([0.0, -0.08, 0.01 * i]))
            tip = motion.positions[:, hand] + 0.08 * along + [0.0, 0.0, 0.01 * i]
            pos.append((tip + bump[:, None] * [0.0, 1.0, -0.5])[:, None])
    rig = Skeleton(f"{skel.name}-fingers", tuple(names), tuple(parents), np.array(offsets), skel.left_right)
    return Motion(np.concatenate(pos, axis=1), motion.fps, rig, metadata={"source": "fingers.bvh"})


def raise_hand(seconds: float = 4.0, fps: float = 30.0, peak: float = 2.5) -> Motion:
    """Standing still (the walk's first pose) while the right arm swings up 100 degrees about the shoulder and
    back down, highest at ``peak`` s: one key pose, driven by the right hand."""
    walk = synthetic_walk(seconds=seconds, fps=fps)
    pos = np.repeat(walk.positions[:1], walk.num_frames, axis=0)
    angle = np.radians(100.0) * np.exp(-0.5 * ((walk.times - peak) / 0.35) ** 2)
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    arm = [j for j in range(CMU.num_joints) if CMU.index("RightArm") in (j, *_ancestors(j))]
    rel = pos[:, arm] - pos[:, CMU.index("RightArm")][:, None]  # about the x axis: down (-y) turns forward (+z)
    y, z = rel[..., 1].copy(), rel[..., 2].copy()
    rel[..., 1], rel[..., 2] = c * y + s * z, c * z - s * y
    pos[:, arm] = pos[:, CMU.index("RightArm")][:, None] + rel
    return Motion(pos, fps, CMU, metadata={"source": "raise.bvh"})


def _ancestors(j: int) -> list[int]:
    out = []
    while CMU.parents[j] >= 0:
        j = CMU.parents[j]
        out.append(j)
    return out


def test_the_true_next_key_pose_is_the_same_on_every_rig_of_a_motion(weights):
    """Mined as the corpus is (the canonical body, upright): a rig whose fingertips curl while the body stands, and
    the same motion in a z-up world, have the motion's true next key pose (the raised hand) and the same MPJPEs
    (scored on the 22 canonical joints). It had been mined on each rig's leaves in its own world: the fingertips'
    curl was the true key pose, and the z-up world was mined lying down."""
    from posecast.keyposes.dataset import CORPUS_MINING
    from posecast.keyposes.mining import mine_keyposes, mine_motion

    raised = raise_hand()
    rigs = {
        "cmu": raised,
        "fingers": fingered(raised, curl_at=1.2),
        "z-up": Motion(raised.positions @ Z_UP.T, raised.fps, raised.skeleton),
    }
    at = 0.8
    mined = mine_motion(raised, **CORPUS_MINING)
    assert mined.body == "smplh-22" and mined.up_axis == "+y" and mined.skipped_frames == 0
    assert [k.frame for k in mined.keyposes] == [75] and mined.keyposes[0].joint_names == ("RightHand",)
    own = mine_keyposes(rigs["fingers"], **CORPUS_MINING)  # on the rig's leaves, the fingertips among them, ...
    assert [k.frame for k in own][:1] == [36]  # ... the curl at 1.2 s had been the next key pose
    errors = {}
    for name, motion in rigs.items():
        assert [k.frame for k in mine_motion(motion, **CORPUS_MINING).keyposes] == [75], name
        fc = posecast.forecast(motion, model="charpose", weights=weights, samples=3, at=at)
        truth = fc.metadata["true_keypose"]
        assert truth["frame"] == 75 and truth["time_s"] == pytest.approx(2.5), name
        assert "canonical body smplh-22" in truth["mined_on"] and truth["scored_on"].startswith("the 22 joints")
        np.testing.assert_allclose(fc.ground_truth[0], motion.positions[75])  # the pose on the rig's own joints
        errors[name] = truth["mpjpe_m"]
    assert "z up turned upright" in mine_motion(rigs["z-up"], **CORPUS_MINING).description()
    np.testing.assert_allclose(errors["fingers"], errors["cmu"], atol=1e-5)
    np.testing.assert_allclose(errors["z-up"], errors["cmu"], atol=1e-5)


def test_a_reference_root_under_the_hips_moves_with_the_grounded_hypotheses(weights):
    """A rig with a ``Reference`` root 9.4 cm under the hips (a COM / reference bone moving with the body), the person
    standing: each hypothesis is moved along up to stand on the floor, and the Reference moves with it, every bone
    at its observed length. It had been taken for a world root, left where observed: Reference -> Hips stretched by
    each hypothesis' move (up to 3 cm on the QA's Mixamo files)."""
    raised = raise_hand()
    names = ("Reference", *CMU.joint_names)
    parents = (-1, 0, *(p + 1 for p in CMU.parents[1:]))
    offsets = np.vstack([np.zeros((1, 3)), CMU.offsets])
    offsets[1] = [0.0, 0.094, 0.0]
    rig = Skeleton("reference-rig", names, parents, offsets, tuple((a + 1, b + 1) for a, b in CMU.left_right))
    pos = np.concatenate([raised.positions[:, :1] - [0.0, 0.094, 0.0], raised.positions], axis=1)
    motion = Motion(pos, raised.fps, rig, metadata={"source": "reference.bvh"})
    fc = posecast.forecast(motion, model="charpose", weights=weights, samples=K, at=1.0)
    meta = fc.metadata
    assert meta["static_joints"] == [] and np.abs(meta["grounded_m"]).max() > 0.01
    last = fc.history.positions[-1]
    np.testing.assert_allclose(bones(fc.samples[:, 0], rig), np.broadcast_to(bones(last, rig), (K, 31)), atol=EXACT_M)
    gap = fc.samples[:, 0, 1] - fc.samples[:, 0, 0]  # Hips - Reference: 9.4 cm, however each was moved
    np.testing.assert_allclose(np.linalg.norm(gap, axis=-1), 0.094, atol=EXACT_M)


def test_no_key_pose_after_at_is_said_not_left_out(cli, weights, tmp_path, monkeypatch):
    """--at after the motion's last key pose: a note says none follows, what was mined and with which criterion; the
    JSON records the search and the picture says it. Nothing had been said: no truth panel, no note."""
    from posecast.keyposes import render as kr

    drawn = {}
    monkeypatch.setattr(kr, "render_panels", lambda panels, skel, path, **kw: drawn.update(kw))
    clip = tmp_path / "raise.npz"
    posecast.save(raise_hand(), clip)  # one key pose, at 2.5 s
    out = tmp_path / "f.json"
    code, stdout, err = cli(
        "forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", "2", "--at", "3.0",
        "--out", str(out), "--out", str(tmp_path / "f.png"),
    )  # fmt: skip
    assert code == 0, err
    assert drawn["subtitle"].endswith(" · no key pose after t = 3.00 s in the file")
    text = " ".join(stdout.split())
    assert "note: raise.npz: no key pose after t = 3.00 s in this file (mined on the canonical body smplh-22" in text
    assert "criterion: reference 1.5 s, prominence 0.03 m" in text
    d = json.loads(out.read_text())
    assert d["true_keypose"] is None and d["true_keypose_search"]["after_s"] == pytest.approx(3.0)
    fc = posecast.forecast(raise_hand(), model="charpose", weights=weights, samples=2, at=3.0)
    assert fc.ground_truth is None and fc.metadata["true_keypose_search"]["criterion"].startswith("reference 1.5 s")
    code, stdout, _ = cli(
        "forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", "2", "--at", "1.0"
    )  # fmt: skip
    assert code == 0 and "true next key pose: frame 75" in stdout and "no key pose after" not in stdout


def test_model_forecast_checks_its_arguments_as_posecast_forecast_does(weights, walk):
    """``model.forecast`` refuses what ``posecast.forecast`` refuses, with a PosecastError: ``samples=True`` had been
    one hypothesis, a list of positions an AttributeError."""
    model = models.get("charpose", weights=weights)
    for bad in (True, 0, 2.0, "3", np.bool_(True)):
        with pytest.raises(ValueRangeError, match="samples must be a positive integer"):
            model.forecast(walk, samples=bad)
    with pytest.raises(ValueRangeError, match=r"takes a Motion, not a list: wrap positions as posecast.Motion"):
        model.forecast(walk.positions.tolist(), samples=2)
    for bad in ("1.0", float("nan"), True):
        with pytest.raises(ValueRangeError, match="at must be a number of seconds"):
            model.forecast(walk, samples=2, at=bad)
    with pytest.raises(ValueRangeError, match="seed must be a whole number"):
        model.forecast(walk, samples=2, seed=1.5)
    fc = model.forecast(walk, samples=np.int64(2), at=np.float64(1.5), seed=np.int64(3))
    assert fc.num_samples == 2


def test_at_observes_up_to_the_last_frame_at_or_before_it(weights, walk):
    """--at 0.39 on a 30 fps motion observes frames 0-11 (0.367 s), not frame 12 at 0.4 s, 10 ms past it (the
    nearest frame had been taken); a time on a frame observes that frame. --at 0.36 leaves 0.333 s: too few."""
    model = models.get("charpose", weights=weights)
    with pytest.raises(ValueRangeError, match=r"use --at 0\.37 or later"):
        model.forecast(walk, samples=2, at=0.36)
    for at, last in ((0.39, 11), (0.46, 13), (11 / 30, 11), (0.7, 21), (1.0, 30)):
        fc = model.forecast(walk, samples=2, at=at)
        assert fc.metadata["last_observed_time_s"] == pytest.approx(last / 30), at
        assert fc.metadata["last_observed_time_s"] <= at + 1e-9
        np.testing.assert_allclose(fc.history.positions[-1], walk.positions[last], atol=1e-9)


def test_saved_key_pose_forecasts_render_to_png_and_info_says_where_the_truth_is(cli, weights, tmp_path):
    """`posecast render k.npz --out k.png` draws a saved key-pose forecast as `forecast --out k.png` does (it had said
    'cannot write .png'); a motion is refused one line before anything is written. `posecast info` says the truth
    is in the metadata (has_true_keypose), not in ground_truth, which posecast.load leaves None."""
    clip = tmp_path / "raise.npz"
    posecast.save(raise_hand(), clip)
    saved = tmp_path / "k.npz"
    code, _, err = cli(
        "forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", "3", "--at", "1.0",
        "--out", str(saved),
    )  # fmt: skip
    assert code == 0, err
    code, stdout, err = cli("render", str(saved), "--out", str(tmp_path / "k.png"))
    assert code == 0, err
    from PIL import Image

    with Image.open(tmp_path / "k.png") as im:
        assert im.size == (1600, 900)
    code, _, err = cli("render", str(clip), "--out", str(tmp_path / "m.png"), "--out", str(tmp_path / "m.gif"))
    assert code == 2 and "cannot write .png of a motion" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.png").exists() and not (tmp_path / "m.gif").exists()
    code, stdout, err = cli("info", str(saved), "--json")
    d = json.loads(stdout)
    assert code == 0 and d["has_ground_truth"] is False and d["has_true_keypose"] is True
    assert posecast.load(saved).ground_truth is None and "true_keypose_root_relative" in d["true_keypose"]


def test_the_table_lists_the_most_probable_and_counts_the_rest(cli, weights, tmp_path):
    """25 hypotheses: the 20 most probable in the table, then how many more and their probabilities (K = 1000 had
    printed 1000 rows of 0.001 and 0.000); one hypothesis is 'hypothesis'; small probabilities keep 2 digits."""
    from posecast.cli.forecast import probability_cell

    clip = tmp_path / "raise.npz"
    posecast.save(raise_hand(), clip)
    code, stdout, err = cli(
        "forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", "25", "--at", "1.0"
    )  # fmt: skip
    assert code == 0, err
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 20 and rows[-1].split("│")[1].strip() == "20"
    assert "... and 5 more, probabilities " in stdout and "best of 25:" in stdout
    code, stdout, err = cli("forecast", str(clip), "--model", "charpose", "--weights", str(weights), "--samples", "1")
    assert code == 0 and "1 key-pose hypothesis after" in " ".join(stdout.split())
    code, stdout, err = cli("keyposes", str(clip), "--preset", "corpus")
    assert code == 0 and "raise.npz: 1 key pose " in " ".join(stdout.split()) + " "
    assert [probability_cell(p) for p in (0.25, 0.001, 0.00042, 0.0)] == ["0.250", "0.001", "0.00042", "0.000"]
