"""Bad arguments of the Python API, as a QA sweep found them (633 calls): each raises a `PosecastError` naming the
argument and the problem, never a raw TypeError / MemoryError from deep inside, a hang, or a silent wrong value."""

from __future__ import annotations

import json

import numpy as np
import pytest

import posecast
from posecast.errors import PosecastError
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk() -> posecast.Motion:
    return synthetic_walk(seconds=3.0, fps=25.0)


def _refused(call, match: str) -> None:
    with pytest.raises(PosecastError, match=match):
        call()


def test_a_million_hypotheses_are_refused_by_every_entry(walk):
    """QA: a model's own ``forecast`` / ``predict`` had no cap (``posecast.forecast`` refused over 1000): a million
    ran for ever."""
    for name in ("zero-velocity", "dct-mlp"):
        model = posecast.models.get(name)
        _refused(lambda m=model: m.forecast(walk, seconds=1.0, samples=10**6), "samples must be at most 1000")
    bound = posecast.models.get("dct-mlp").on_skeleton(walk.skeleton)
    _refused(lambda: bound.predict(walk.positions[None], 5, 10**6, 25.0), "samples must be at most 1000")


def test_a_frame_rate_that_would_resample_to_terabytes_is_refused(walk):
    """QA: 75 frames at 1e-9 fps resampled to the model's 25 fps asked for 13.6 TiB (numpy's MemoryError)."""
    slow = posecast.Motion(walk.positions, 1e-9, walk.skeleton)
    _refused(lambda: slow.resample(25.0), "would make .* frames")
    _refused(lambda: posecast.forecast(walk.positions, skeleton=walk.skeleton, fps=1e-9), "is the frame rate right")


def test_paths_and_weights_of_the_wrong_type_are_named(walk, tmp_path):
    """QA: ``load(42)``, ``save(m, 42)``, ``detect_format(42)`` and ``weights=42`` raised pathlib's TypeError."""
    _refused(lambda: posecast.load(42), "path must be a file path")
    _refused(lambda: posecast.save(walk, 42), "path must be a file path")
    _refused(lambda: posecast.io.detect_format(None), "path must be a file path")
    _refused(lambda: posecast.models.get("dct-mlp", weights=42), "weights must be a folder path")
    _refused(lambda: posecast.forecast(walk, weights=42), "weights must be a folder path")
    assert not list(tmp_path.iterdir())


def test_positions_that_are_not_real_numbers_are_refused(walk):
    """QA: complex positions lost their imaginary part (with numpy's warning only) and booleans were forecast."""
    _refused(lambda: posecast.forecast(walk.positions + 0.5j, skeleton=walk.skeleton, fps=25.0), "real numbers")
    _refused(lambda: posecast.forecast(walk.positions > 0, skeleton=walk.skeleton, fps=25.0), "real numbers")
    _refused(lambda: posecast.Motion(walk.positions > 0, 25.0, walk.skeleton), "real numbers")


def test_a_skeleton_takes_whole_joint_indices_and_names():
    """QA: a parent 0.5 became 0, a string of names was split into letters, end effectors past the joints and names
    that are numbers were taken."""
    Skeleton = posecast.Skeleton
    _refused(lambda: Skeleton("t", ("a", "b"), (-1, 0.5)), "parents a list of joint indices")
    _refused(lambda: Skeleton("t", "ab", (-1, 0)), "joint_names must be a list of names")
    _refused(lambda: Skeleton("t", (1, 2), (-1, 0)), "joint_names must be a list of names")
    _refused(lambda: Skeleton(42, ("a", "b"), (-1, 0)), "name must be a non-empty string")
    _refused(lambda: Skeleton("t", ("a", "b"), (-1, 0), end_effectors=(9,)), "outside joints 0..1")
    ok = Skeleton("t", ("a", "b"), (-1, np.int64(0)), end_effectors=(1,))  # numpy integers are whole numbers
    assert ok.parents == (-1, 0) and ok.end_effectors == (1,)


def test_client_arguments_are_checked_when_it_is_made():
    """QA: ``url=42`` raised AttributeError, a port that is no number and timeouts of "x" / -1 / NaN were taken and
    failed at the first request, an empty token or one with a line break was taken (the server refuses the first;
    the second is no header)."""
    from posecast.client import Client

    _refused(lambda: Client(42), "url must be a string")
    _refused(lambda: Client("http://h:notaport"), "port must be a number from 1 to 65535")
    _refused(lambda: Client("http://h:99999"), "port must be a number from 1 to 65535")
    for token in ("", "a\nb", 42):
        _refused(lambda t=token: Client(token=t), "token must be a non-empty string")
    for timeout in ("x", -1, 0, float("nan"), float("inf"), True):
        _refused(lambda t=timeout: Client(timeout=t), "timeout must be a positive number")
    assert Client("https://example.org:8443", token="s3cret", timeout=5).timeout == 5.0


def test_metadata_numbers_that_are_not_finite_are_written_as_null(walk, tmp_path):
    """QA: a NaN in a motion's metadata was written into the .json file as a bare ``NaN``, which is not JSON."""
    m = posecast.Motion(walk.positions, walk.fps, walk.skeleton, metadata={"a": float("nan"), "b": [1.0, np.inf]})
    path = posecast.save(m, tmp_path / "m.json")
    doc = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["metadata"]["a"] is None and doc["metadata"]["b"] == [1.0, None]
    assert posecast.load(path).metadata["a"] is None


def test_smaller_api_misuses_are_named(walk):
    """QA: each of these raised a raw error from deep inside (AttributeError, TypeError, numpy's ValueError) or was
    taken silently (an unknown model option, a resampling anchor, pretrained="no", fps as a string)."""
    nn = posecast.models.get("nearest-neighbour")
    for data in ("nope", None, 42):
        _refused(lambda d=data: nn.fit(d), "fit takes a list of Motions")
    _refused(lambda: nn.fit([42]), "must be a Motion or a \\(T, J, 3\\) array")
    _refused(lambda: posecast.forecast(walk, model="nearest-neighbour", fit_data=42), "fit_data must be a folder")
    _refused(lambda: posecast.models.get("dct-mlp", foo=1), "has no option 'foo'; it takes data")
    _refused(lambda: posecast.models.get("zero-velocity", foo=1), "has no option 'foo'; it takes none")
    _refused(lambda: posecast.models.get("dct-mlp", pretrained="no"), "pretrained must be True or False")
    _refused(lambda: walk.resample(25.0, anchor="bad"), "anchor must be 'start' or 'end'")
    _refused(lambda: posecast.Motion.from_torch(walk.positions, 25.0, walk.skeleton), "takes a torch tensor")
    _refused(lambda: walk.skeleton.indices("Hips"), "takes a list of joint names")
    _refused(lambda: walk.skeleton.children(99), "has no joint 99")
    _refused(lambda: walk.skeleton.same_layout(42), "compares with a Skeleton")
    _refused(lambda: walk.skeleton.subset([99]), "no joint 99")
    _refused(lambda: posecast.Skeleton.from_dict({}), "a mapping with 'name', 'joint_names' and 'parents'")
    _refused(lambda: posecast.skeletons.get(["h36m-17"]), "a registered name or a Skeleton")
    _refused(lambda: posecast.forecast(walk.positions, skeleton=walk.skeleton, fps="25"), "is not a number")


def test_save_refuses_options_its_writer_does_not_take(walk, tmp_path):
    """QA: ``save(m, "x.npz", foo=1)`` wrote the file and ignored the option (``load`` refuses unknown ones); nothing
    is written. The BVH writer's own options stay."""
    _refused(lambda: posecast.save(walk, tmp_path / "x.npz", foo=1), "unknown option\\(s\\) for writing npz: foo")
    assert not (tmp_path / "x.npz").exists()


def test_a_bvh_of_rotations_that_are_no_rotation_matrices_is_refused_naming_frame_and_joint(tmp_path):
    """QA: zeros as rotations ended in scipy's multi-line "Non-positive determinant ..." from the BVH writer (the JSON
    and npz writers named the frame and joint already)."""
    m = synthetic_walk(seconds=0.4, fps=25.0)  # (with rotations)
    rot = m.rotations.copy()
    rot[2, 3] = 0.0
    bad = posecast.Motion(m.positions, m.fps, m.skeleton, rotations=rot, root_translation=m.root_translation)
    _refused(lambda: posecast.save(bad, tmp_path / "x.bvh"), "'rotations' frame 2, joint 3 is not a rotation matrix")
    assert not (tmp_path / "x.bvh").exists()
