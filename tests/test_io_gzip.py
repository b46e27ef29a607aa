"""gzip-compressed input for every reader: the real Bandai Namco ``.bvh.gz`` files, every writable format
compressed and read back, suffix-less gzip, corrupt and truncated streams, errors naming the ``.gz``
file, and hypothesis tests on random truncations and corruptions."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posecast
from posecast.datasets.paths import dataset_dir
from posecast.errors import FormatError, PosecastError
from posecast.io import detect_format, registry
from posecast.io.registry import format_suffix, inner_name, is_gzip, read_bytes
from posecast.synthetic import synthetic_walk

TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
"""


def _gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


@pytest.fixture(scope="module")
def walk():
    return synthetic_walk(seconds=1.0, fps=25.0)


# ------------------------------------------------------------------------- hand-made gzip files
def test_tiny_bvh_gz_hand_computed_and_named_after_the_inner_file(tmp_path):
    p = _gz(tmp_path / "tiny.bvh.gz", TINY_BVH.encode())
    m = posecast.load(p, units="cm")
    # frame 0: root at (1,2,3) cm, Spine 10 cm up; frame 1: Rz(90) maps +y to -x
    np.testing.assert_allclose(
        m.positions[:, :2], [[[0.01, 0.02, 0.03], [0.01, 0.12, 0.03]], [[0, 0, 0], [-0.1, 0, 0]]], atol=1e-15
    )
    assert m.fps == 30.0 and m.skeleton.name == "bvh-tiny"
    assert m.metadata["source"] == str(p) and m.metadata["compression"] == "gzip"
    assert detect_format(p).name == "bvh"
    plain = tmp_path / "tiny.bvh"
    plain.write_text(TINY_BVH)
    np.testing.assert_array_equal(posecast.load(plain, units="cm").positions, m.positions)
    # gzip is recognised by its magic bytes, whatever the suffix
    disguised = _gz(tmp_path / "disguised.bvh", TINY_BVH.encode())
    np.testing.assert_array_equal(posecast.load(disguised, units="cm").positions, m.positions)
    # and a forced format reads the compressed file too
    np.testing.assert_array_equal(posecast.load(p, format="bvh", units="cm").positions, m.positions)


def test_names_and_suffix_helpers(tmp_path):
    assert inner_name("a/clip.bvh.gz") == "clip.bvh" and inner_name("clip.BVH.GZ") == "clip.BVH"
    assert inner_name("clip.bvh") == "clip.bvh" and inner_name(".gz") == ".gz"
    assert format_suffix("x/clip.BVH.gz") == ".bvh" and format_suffix("clip.amc") == ".amc"
    assert format_suffix("archive.gz") == ""
    p = _gz(tmp_path / "a.bvh.gz", b"x")
    assert is_gzip(p) and not is_gzip(tmp_path / "missing.gz")
    assert read_bytes(p) == b"x"
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"abc")
    assert read_bytes(plain) == b"abc" and not is_gzip(plain)


def test_multi_member_and_zero_padding(tmp_path):
    text = TINY_BVH.encode()
    half = len(text) // 2
    p = tmp_path / "multi.bvh.gz"
    p.write_bytes(gzip.compress(text[:half], mtime=0) + gzip.compress(text[half:], mtime=0) + b"\0\0\0")
    assert read_bytes(p) == text
    assert posecast.load(p, units="cm").num_frames == 2


# --------------------------------------------------------------------- every format, compressed
@pytest.mark.parametrize(
    ("suffix", "options"),
    [
        (".bvh", {}),
        (".npz", {}),  # already a zip archive: compressing gains little, but it is read like the rest
        (".json", {}),
        (".csv", {}),
        (".npy", {"skeleton": "cmu-bvh-31", "fps": 25.0}),
    ],
)
def test_every_writable_format_saved_gzipped_and_read_back(tmp_path, walk, suffix, options):
    plain = posecast.save(walk, tmp_path / f"walk{suffix}")
    packed = posecast.save(walk, tmp_path / f"walk{suffix}.gz")
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()  # the same bytes, compressed
    a, b = posecast.load(plain, **options), posecast.load(packed, **options)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.fps == b.fps and a.skeleton.joint_names == b.skeleton.joint_names
    assert b.metadata["compression"] == "gzip"
    if a.metadata.get("source") == str(plain):  # formats that name the file read: the .gz file
        assert b.metadata["source"] == str(packed)
    assert detect_format(packed).name == detect_format(plain).name


def test_expmap_text_gz_by_inner_suffix(tmp_path):
    rows = np.random.default_rng(0).normal(scale=0.3, size=(4, 117))  # a CMU-Mocap benchmark file
    txt = tmp_path / "w.txt"
    np.savetxt(txt, rows, fmt="%.9g", delimiter=",")
    gz = _gz(tmp_path / "w.txt.gz", txt.read_bytes())
    assert detect_format(gz).name == "cmu-expmap"  # the sniffer needs the inner .txt suffix
    np.testing.assert_allclose(posecast.load(gz).positions, posecast.load(txt).positions)


def test_forecast_npz_gz(tmp_path, walk):
    fc = posecast.forecast(walk, model="constant-velocity", frames=5)
    p = posecast.save(fc, tmp_path / "f.npz.gz")
    back = posecast.load(p)
    np.testing.assert_allclose(back.samples, fc.samples)
    assert back.metadata["compression"] == "gzip"


# --------------------------------------------------------------------------------- bad input
def test_corrupt_truncated_and_empty_gzip_name_the_gz_file(tmp_path):
    good = gzip.compress(TINY_BVH.encode(), mtime=0)
    cases = {
        "truncated.bvh.gz": (good[: len(good) // 2], "ends before|truncated"),
        "no_trailer.bvh.gz": (good[:-8], "ends before|truncated"),
        "garbage.bvh.gz": (b"\x1f\x8b" + b"\x08\x00garbage-not-deflate" * 3, "corrupt gzip"),
        "badcrc.bvh.gz": (good[:-8] + b"\0\0\0\0" + good[-4:], "corrupt gzip"),
        "trailing.bvh.gz": (good + b"junk", "after the compressed stream"),
        "empty_inside.bvh.gz": (gzip.compress(b""), "empty"),
    }
    for name, (data, pattern) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        for call, kwargs in ((posecast.load, {}), (detect_format, {}), (posecast.load, {"format": "bvh"})):
            with pytest.raises(FormatError, match=pattern) as err:
                call(p, **kwargs)
            assert err.value.path == str(p), name
    with pytest.raises(FormatError, match="no such file"):
        posecast.load(tmp_path / "missing.bvh.gz")


def test_bad_content_inside_gzip_names_the_gz_file_not_a_temporary_copy(tmp_path):
    p = _gz(tmp_path / "bad.bvh.gz", TINY_BVH.replace("CHANNELS 3", "CHANNELS 9").encode())
    with pytest.raises(FormatError, match="line 9: 9 channels") as err:
        posecast.load(p)
    assert err.value.path == str(p) and "posecast-gz-" not in str(err.value)
    q = _gz(tmp_path / "bad.npz.gz", b"PK\x03\x04 not really a zip")
    with pytest.raises(FormatError) as err:
        posecast.load(q)
    assert err.value.path == str(q) and "posecast-gz-" not in str(err.value)
    r = _gz(tmp_path / "unknown.xyz.gz", b"hello")
    with pytest.raises(FormatError, match="unrecognised file format") as err:
        posecast.load(r)
    assert err.value.path == str(r)


def test_gzip_bomb_guard(tmp_path, monkeypatch):
    p = _gz(tmp_path / "big.bvh.gz", TINY_BVH.encode() + b" " * 100_000)
    monkeypatch.setattr(registry, "MAX_GUNZIP_BYTES", 50_000)
    with pytest.raises(FormatError, match="larger than 50000 bytes") as err:
        posecast.load(p)
    assert err.value.path == str(p)


def test_failed_gz_save_leaves_nothing_and_names_the_gz_file(tmp_path, walk):
    positions_only = posecast.Motion(walk.positions, walk.fps, walk.skeleton)
    target = tmp_path / "x.bvh.gz"
    with pytest.raises(FormatError, match="only joint positions") as err:
        posecast.save(positions_only, target)
    assert err.value.path == str(target) and list(tmp_path.iterdir()) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_truncations_and_bit_flips_raise_only_format_errors(tmp_path, data):
    good = gzip.compress(TINY_BVH.encode(), mtime=0)
    if data.draw(st.booleans(), label="truncate"):
        blob = good[: data.draw(st.integers(2, len(good) - 1), label="cut")]
    else:
        i = data.draw(st.integers(2, len(good) - 1), label="byte")
        blob = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255), label="flip")]) + good[i + 1 :]
    p = tmp_path / "r.bvh.gz"
    p.write_bytes(blob)
    try:
        m = posecast.load(p, units="cm")
    except PosecastError as exc:
        assert exc.path == str(p) and "posecast-gz-" not in str(exc)
    else:  # a flip in the header's flags/mtime/OS bytes can leave a valid stream
        assert m.num_frames == 2
        assert zlib.crc32(read_bytes(p)) == zlib.crc32(TINY_BVH.encode())


# ------------------------------------------------------------------------------ real Bandai data
@pytest.fixture(scope="module")
def bandai_dir() -> Path:
    path = dataset_dir("bandai_namco", required=False)
    if path is None:
        pytest.skip("real data 'bandai_namco' not available: set POSECAST_DATA to the shared data root")
    return path


def test_real_bandai_bvh_gz(bandai_dir, tmp_path):
    files = sorted((bandai_dir / "dataset-1").glob("*.bvh.gz"))
    assert len(files) > 100
    gz = next(f for f in files if "walk_normal" in f.name)
    m = posecast.load(gz)
    assert m.fps == 30.0 and m.skeleton.num_joints == 22 and m.metadata["units"] == "cm"
    assert m.skeleton.joint_names[:3] == ("joint_Root", "Hips", "Spine")
    assert m.metadata["source"] == str(gz) and m.skeleton.name == f"bvh-{gz.name[: -len('.bvh.gz')]}"
    assert "Zrotation Xrotation Yrotation" in read_bytes(gz)[:400].decode()
    heights = m.positions[:, :, 1].max(axis=1) - m.positions[:, :, 1].min(axis=1)
    assert 1.2 < float(np.median(heights)) < 1.9  # toes to the head joint of a walking adult, metres (not cm)
    plain = tmp_path / gz.name[:-3]
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    np.testing.assert_array_equal(posecast.load(plain).positions, m.positions)
    np.testing.assert_array_equal(posecast.load(plain).rotations, m.rotations)
    other = posecast.load(bandai_dir / "dataset-2" / next(p.name for p in (bandai_dir / "dataset-2").glob("*.bvh.gz")))
    assert other.fps == 30.0 and other.skeleton.joint_names == m.skeleton.joint_names
