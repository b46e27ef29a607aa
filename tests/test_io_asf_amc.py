"""ASF/AMC reader: hand-computed FK on a tiny hand-written skeleton, an independent per-frame
implementation (scipy, written from the Acclaim definition) on random skeletons and motions and on
the real HDM05 clips, finding the ASF, frame rates, encodings, gzip, error messages, the CLI, and
hypothesis tests on random corruptions."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import posecast
from posecast.datasets.paths import dataset_dir
from posecast.errors import FormatError, PosecastError, ValueRangeError
from posecast.io import detect_format
from posecast.io.asf_amc import asf_left_right, find_asf, parse_asf, read_amc, read_asf
from posecast.io.bvh import read_bvh
from posecast.motion import Motion

# ----------------------------------------------------------------------------- a hand-made pair
# ":units length 0.0254" makes one file unit 1/0.0254 inch = 1 m, so the numbers below are metres.
TINY_ASF = """# a hand-written skeleton
:version 1.10
:name tiny
:units
  mass 1.0
  length 0.0254
  angle deg
:documentation
  three chains from the root
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name lfemur
     direction 0 -1 0
     length 2
     axis 0 0 0  XYZ
    dof rx ry rz
    limits (-160.0 20.0)
           (-70.0 70.0)
           (-60.0 70.0)
  end
  begin
     id 2
     name ltibia
     direction 0 -1 0
     length 1
     axis 0 0 90 XYZ
    dof rx
    limits (-10.0 170.0)
  end
  begin
     id 3
     name spine
     direction 0 2 0
     length 3
     axis 0 0 0 XYZ
  end
  begin
     id 4
     name rfemur
     direction 0 -1 0
     length 2
     axis 0 0 0 XYZ
    dof rz
  end
:hierarchy
  begin
    root lfemur spine rfemur
    lfemur ltibia
  end
"""

TINY_AMC = """#!OML:ASF tiny.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
lfemur 0 0 0
ltibia 0
rfemur 0
2
root 0 0 0 0 90 0
lfemur 90 0 0
ltibia 90
rfemur 30
"""

TINY_NAMES = ("root", "lfemur", "ltibia", "ltibia_end", "spine", "spine_end", "rfemur", "rfemur_end")
S3 = np.sqrt(3.0)
# Worked by hand (metres). Rotations about fixed axes, x applied first: R = Rz @ Ry @ Rx.
#  frame 1: no rotation; root at (1,2,3): lfemur = spine = rfemur = root (bones start at the root),
#           ltibia 2 below (end of lfemur), ltibia_end 1 further, spine_end 3 up, rfemur_end 2 down.
#  frame 2: root Ry(90) = [[0,0,1],[0,1,0],[-1,0,0]]; lfemur Rx(90) maps (0,-2,0) to (0,0,-2), then
#           Ry(90) to (-2,0,0): ltibia at (-2,0,0). ltibia: C = Rz(90), M = Rx(90), so
#           L = C M C^-1 = a 90 degree turn about C x = +y = Ry(90); (0,-1,0) -> Ry90 -> (0,-1,0)
#           -> Rx90 -> (0,0,-1) -> Ry90 -> (-1,0,0): ltibia_end at (-3,0,0). spine has no dof:
#           spine_end = Ry90 (0,3,0) = (0,3,0). rfemur Rz(30): (0,-2,0) -> (1,-sqrt3,0) -> Ry90 ->
#           (0,-sqrt3,-1).
TINY_POSITIONS = np.array([
    [[1, 2, 3], [1, 2, 3], [1, 0, 3], [1, -1, 3], [1, 2, 3], [1, 5, 3], [1, 2, 3], [1, 0, 3]],
    [[0, 0, 0], [0, 0, 0], [-2, 0, 0], [-3, 0, 0], [0, 0, 0], [0, 3, 0], [0, 0, 0], [0, -S3, -1]],
], dtype=float)  # fmt: skip
RY90 = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])
RX90 = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


@pytest.fixture
def tiny(tmp_path) -> tuple[Path, Path]:
    return _write(tmp_path, "tiny_01.amc", TINY_AMC), _write(tmp_path, "tiny.asf", TINY_ASF)


def test_tiny_pair_hand_computed(tiny):
    amc, asf = tiny
    m = posecast.load(amc, asf=asf)
    assert m.skeleton.joint_names == TINY_NAMES
    assert m.skeleton.parents == (-1, 0, 1, 2, 0, 4, 0, 6)
    assert m.skeleton.name == "asf-tiny" and m.fps == 120.0
    np.testing.assert_allclose(m.positions, TINY_POSITIONS, atol=1e-12)
    np.testing.assert_allclose(m.root_translation, [[1, 2, 3], [0, 0, 0]], atol=1e-15)
    np.testing.assert_allclose(
        m.skeleton.offsets, [[0, 0, 0], [0, 0, 0], [0, -2, 0], [0, -1, 0], [0, 0, 0], [0, 3, 0], [0, 0, 0], [0, -2, 0]]
    )
    np.testing.assert_allclose(m.rotations[1, 0], RY90, atol=1e-15)
    np.testing.assert_allclose(m.rotations[1, 1], RX90, atol=1e-15)
    np.testing.assert_allclose(m.rotations[1, 2], RY90, atol=1e-15)  # C Rx(90) C^-1 with C = Rz(90)
    for j in (3, 4, 5, 7):  # end joints and the dof-less spine keep the rest rotation
        np.testing.assert_array_equal(m.rotations[:, j], np.broadcast_to(np.eye(3), (2, 3, 3)))
    assert m.skeleton.end_effectors == (3, 5, 7) and m.skeleton.left_right == ((1, 6),)
    md = m.metadata
    assert md["format"] == "amc" and md["asf"] == str(asf) and md["asf_found_by"] == "option"
    assert md["metres_per_unit"] == pytest.approx(1.0) and md["first_frame_number"] == 1
    assert md["fps_source"].startswith("default (120 Hz")
    # found without asf= (tiny.asf: the actor prefix of tiny_01), by content whatever the suffix
    assert posecast.load(amc).metadata["asf_found_by"] == "actor prefix, next to the clip"
    assert detect_format(amc).name == "amc" and detect_format(asf).name == "asf"
    np.testing.assert_array_equal(read_amc(amc, asf=asf).positions, m.positions)


def test_written_to_bvh_and_read_back(tiny, tmp_path):
    m = posecast.load(tiny[0], asf=tiny[1])
    out = posecast.save(m, tmp_path / "tiny.bvh")
    back = read_bvh(out, units="m", end_sites=True)
    assert back.skeleton.joint_names == TINY_NAMES
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-9)
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-9)


def test_bvh_of_an_amc_holds_its_bone_ends_as_end_sites(tiny, tmp_path):
    """An AMC's ``<bone>_end`` joints are the tips of leaf bones: a BVH writes them as End Sites (as CMU's own BVH
    conversions do, and as DCC tools read a bone's tip), which a plain load leaves out and ``end_sites=True`` reads
    back as the same joints; ``posecast forecast --out f.bvh`` says so in one line."""
    from posecast.io.bvh import written_as_end_sites

    m = posecast.load(tiny[0], asf=tiny[1])
    assert written_as_end_sites(m) == ("ltibia_end", "spine_end", "rfemur_end")
    text = posecast.save(m, tmp_path / "tiny.bvh").read_text()
    assert text.count("End Site") == 3 and "_end" not in text
    plain = read_bvh(tmp_path / "tiny.bvh", units="m")
    assert plain.skeleton.joint_names == ("root", "lfemur", "ltibia", "spine", "rfemur")
    assert read_bvh(tmp_path / "tiny.bvh", units="m", end_sites=True).skeleton.joint_names == TINY_NAMES
    amc = _write(tmp_path / "clips", "walk.amc", "\n".join(
        f"{i}\nroot {0.01 * i} 1 0 0 {i} 0\nlfemur {i} 0 0\nltibia {i}\nrfemur 0" for i in range(1, 121)
    ) + "\n")  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-m", "posecast", "forecast", str(amc), "--asf", str(tiny[1]), "--model", "zero-velocity"]
        + ["--out", str(tmp_path / "f.bvh"), "--out", str(tmp_path / "f.npz")],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert r.returncode == 0, r.stderr
    notes = [ln for ln in r.stdout.splitlines() if ln.startswith("note:")]
    assert notes == [
        "note: f.bvh: ltibia_end, spine_end, rfemur_end (3 bone ends) are End Sites, as BVH writes the ends of bones: "
        "posecast.load(..., end_sites=True) reads them back as joints"
    ], r.stdout
    back, fc = posecast.load(tmp_path / "f.bvh", units="m", end_sites=True), posecast.load(tmp_path / "f.npz")
    assert back.skeleton.joint_names == TINY_NAMES
    np.testing.assert_allclose(back.positions[120:], fc.samples[0], atol=1e-6)  # zero-velocity keeps every bone


def test_the_cli_takes_the_end_sites_from_the_writer(tiny, tmp_path, monkeypatch, capsys):
    """Review: the End Site note ran the writer's layout (its forward kinematics) a second time per BVH output; the
    writer now records what it wrote (`recording_end_sites`), and the CLI prints the same note from one layout."""
    import posecast.io.bvh as bvh
    from posecast.cli.app import main

    m = posecast.load(tiny[0], asf=tiny[1])
    with bvh.recording_end_sites() as written:
        posecast.save(m, tmp_path / "a.bvh")
        posecast.save(m, tmp_path / "b.bvh.gz")
    assert written == [("ltibia_end", "spine_end", "rfemur_end")] * 2 == [bvh.written_as_end_sites(m)] * 2
    posecast.save(m, tmp_path / "c.bvh")  # outside the block: nothing recorded
    assert len(written) == 2
    calls = []
    layout = bvh._layout_out
    monkeypatch.setattr(bvh, "_layout_out", lambda *a: (calls.append(1), layout(*a))[1])
    amc = _write(tmp_path / "clips", "walk.amc", "\n".join(
        f"{i}\nroot {0.01 * i} 1 0 0 {i} 0\nlfemur {i} 0 0\nltibia {i}\nrfemur 0" for i in range(1, 61)
    ) + "\n")  # fmt: skip
    out = tmp_path / "f.bvh"
    monkeypatch.setattr(sys, "argv", ["posecast", "forecast", str(amc), "--asf", str(tiny[1]), "--model",
                                      "zero-velocity", "--out", str(out)])  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main()
    assert not exc.value.code and len(calls) == 1  # the writer's layout only (had been 2)
    assert "note: f.bvh: ltibia_end, spine_end, rfemur_end (3 bone ends) are End Sites" in capsys.readouterr().out


def test_root_order_units_radians_and_root_presets(tmp_path):
    # order RZ..RX: Z applied first, R = Rx @ Ry @ Rz; :units length 0.45 (CMU): 1 unit = 0.0254/0.45 m
    asf = (
        TINY_ASF.replace("order TX TY TZ RX RY RZ", "order RZ RY RX TX TY TZ")
        .replace("length 0.0254", "length 0.45")
        .replace("angle deg", "angle rad")
        .replace("position 0 0 0", "position 0 1 0")
    )
    rad90 = f"{np.pi / 2!r}"
    amc = f"1\nroot {rad90} 0 {rad90} 0 0 0\nlfemur 0 0 0\nltibia 0\nrfemur 0\n"
    m = read_amc(_write(tmp_path, "c.amc", amc), asf=_write(tmp_path, "c.asf", asf))
    unit = 0.0254 / 0.45
    assert m.metadata["metres_per_unit"] == pytest.approx(unit) and m.metadata["angle_unit"] == "rad"
    g = RX90 @ np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # Rx(90) @ Rz(90)
    np.testing.assert_allclose(m.rotations[0, 0], g, atol=1e-15)
    np.testing.assert_allclose(m.positions[0, 0], [0, unit, 0], atol=1e-15)  # the preset position
    np.testing.assert_allclose(m.positions[0, 3] - m.positions[0, 0], g @ [0, -3 * unit, 0], atol=1e-12)
    # an AMC :DEGREES line wins over the ASF's angle unit for the motion's values
    deg = read_amc(_write(tmp_path, "d.amc", ":DEGREES\n" + amc.replace(rad90, "90")), asf=tmp_path / "c.asf")
    np.testing.assert_allclose(deg.rotations[0, 0], g, atol=1e-15)
    # and units= overrides the ASF
    assert read_amc(tmp_path / "c.amc", asf=tmp_path / "c.asf", units="cm").metadata["metres_per_unit"] == 0.01


def test_asf_alone_is_the_rest_pose(tiny):
    m = posecast.load(tiny[1])
    assert isinstance(m, Motion) and m.num_frames == 1 and m.metadata["rest_pose"] is True
    np.testing.assert_allclose(m.positions[0], m.skeleton.rest_positions())
    assert m.fps == 120.0 and read_asf(tiny[1], fps=30).fps == 30.0


def test_left_right_pairs_of_asf_names():
    names = ("root", "lhipjoint", "lfemur", "lowerback", "rhipjoint", "rfemur", "lfemur_end", "rfemur_end", "lthumb")
    assert asf_left_right(names) == ((1, 4), (2, 5), (6, 7))


# ------------------------------------------------------------------------------- frame rates
def test_frame_rate_sources(tmp_path, tiny):
    amc, asf = tiny
    assert read_amc(amc, asf=asf, fps=60).metadata["fps_source"] == "option"
    header = _write(tmp_path, "h.amc", ":SAMPLES-PER-SECOND 250\n" + TINY_AMC)
    m = read_amc(header, asf=asf)
    assert m.fps == 250.0 and m.metadata["fps_source"].startswith("header line")
    named = _write(tmp_path, "HDM_xx_walk_001_60.amc", TINY_AMC)
    assert read_amc(named, asf=asf).fps == 60.0 and read_amc(named, asf=asf).metadata["fps_source"] == "file name"
    cmu = _write(tmp_path, "02_30.amc", TINY_AMC)  # CMU trial 30: not a rate
    assert read_amc(cmu, asf=asf).fps == 120.0
    with pytest.raises(ValueRangeError, match="fps"):
        read_amc(amc, asf=asf, fps=-1)
    with pytest.raises(FormatError, match="line 1: frame rate"):
        read_amc(_write(tmp_path, "z.amc", ":SAMPLES-PER-SECOND 0\n" + TINY_AMC), asf=asf)


# ------------------------------------------------------------------------------ finding the ASF
def test_find_asf_layouts(tmp_path):
    # HDM05: hdm05/bd/HDM_bd_x_001_120.amc -> hdm05/asf/HDM_bd.asf (another actor's ASF beside it)
    clip = _write(tmp_path / "hdm" / "bd", "HDM_bd_kick_001_120.amc", TINY_AMC)
    _write(tmp_path / "hdm" / "asf", "HDM_bd.asf", TINY_ASF)
    _write(tmp_path / "hdm" / "asf", "HDM_mm.asf", TINY_ASF)
    found, how = find_asf(clip)
    assert found == tmp_path / "hdm" / "asf" / "HDM_bd.asf" and "sibling asf/" in how
    # CMU: 02_01.amc -> 02.asf next to it, not 03.asf; the longest actor prefix wins
    cmu = _write(tmp_path / "cmu", "02_01.amc", TINY_AMC)
    for name in ("02.asf", "03.asf", "0.asf"):
        _write(tmp_path / "cmu", name, TINY_ASF)
    assert find_asf(cmu)[0].name == "02.asf"
    # compressed skeletons count; the clip's own folder before asf/
    gz = _write(tmp_path / "gz" / "x", "HDM_bd_a_001_120.amc", TINY_AMC)
    _write(tmp_path / "gz" / "x", "HDM_bd.asf.gz", gzip.compress(TINY_ASF.encode()))
    _write(tmp_path / "gz" / "asf", "HDM_bd.asf", TINY_ASF)
    assert find_asf(gz)[0].name == "HDM_bd.asf.gz"
    assert posecast.load(gz).metadata["asf"].endswith("HDM_bd.asf.gz")
    # no actor prefix, but the only .asf next to the clip
    single = _write(tmp_path / "single", "walk.amc", TINY_AMC)
    _write(tmp_path / "single", "skeleton.asf", TINY_ASF)
    assert find_asf(single) == (tmp_path / "single" / "skeleton.asf", "the only .asf next to the clip")
    # nothing that fits: the error lists what was considered and says how to pass one
    lost = _write(tmp_path / "lost", "walk.amc", TINY_AMC)
    _write(tmp_path / "lost", "a.asf", TINY_ASF)
    _write(tmp_path / "lost", "b.asf", TINY_ASF)
    with pytest.raises(FormatError, match=r"considered .*a\.asf, .*b\.asf.*--asf") as err:
        posecast.load(lost)
    assert err.value.path == str(lost)
    alone = _write(tmp_path / "alone", "walk.amc", TINY_AMC)
    with pytest.raises(FormatError, match=r"no \.asf next to the clip.*asf=FILE \(CLI: --asf FILE\)"):
        posecast.load(alone)
    with pytest.raises(FormatError, match="no such ASF file") as err:
        posecast.load(alone, asf=tmp_path / "missing.asf")
    assert err.value.path == str(tmp_path / "missing.asf")


def test_find_asf_from_inside_the_clips_folder(tmp_path, monkeypatch):
    """QA: run from the clip's own folder (``posecast info HDM_bd_x.amc``), the sibling asf/ folder was looked for
    in ./asf (a bare name's parent's parent is "."); a relative path finds what an absolute one does."""
    _write(tmp_path / "hdm" / "bd", "HDM_bd_kick_001_120.amc", TINY_AMC)
    _write(tmp_path / "hdm" / "asf", "HDM_bd.asf", TINY_ASF)
    want = tmp_path / "hdm" / "asf" / "HDM_bd.asf"
    clip = "HDM_bd_kick_001_120.amc"
    bd, asf = tmp_path / "hdm" / "bd", tmp_path / "hdm" / "asf"
    for cwd, name in ((bd, clip), (bd, f"./{clip}"), (asf, f"../bd/{clip}"), (tmp_path, f"hdm/bd/{clip}")):
        monkeypatch.chdir(cwd)
        assert find_asf(name)[0].resolve() == want.resolve(), (cwd, name)
        assert posecast.load(name).num_frames == posecast.load(bd / clip).num_frames
    monkeypatch.chdir(tmp_path / "hdm")  # an asf/ folder below the working directory is not the clip's sibling
    _write(tmp_path / "hdm" / "asf", "HDM_mm.asf", TINY_ASF)
    alone = _write(tmp_path / "hdm", "HDM_zz_walk.amc", TINY_AMC)
    with pytest.raises(FormatError, match=r"no \.asf next to the clip nor in " + re.escape(str(tmp_path / "asf"))):
        find_asf(alone.name)


def test_gzip_amc_and_asf(tmp_path):
    clip = _write(tmp_path, "tiny_01.amc.gz", gzip.compress(TINY_AMC.encode()))
    _write(tmp_path, "tiny.asf.gz", gzip.compress(TINY_ASF.encode()))
    m = posecast.load(clip)
    np.testing.assert_allclose(m.positions, TINY_POSITIONS, atol=1e-12)
    assert m.metadata["source"] == str(clip) and m.metadata["compression"] == "gzip"
    assert posecast.load(tmp_path / "tiny.asf.gz").skeleton.name == "asf-tiny"
    assert detect_format(clip).name == "amc"


def test_latin1_and_utf8_headers_crlf_and_bom(tmp_path, tiny):
    latin = b"#!OML:ASF X:\\f\xfcr Bonn\\Bastian.ASF\r\n" + TINY_AMC.replace("\n", "\r\n").encode()
    m = read_amc(_write(tmp_path, "l.amc", latin), asf=tiny[1])
    assert m.metadata["amc_comment"] == "#!OML:ASF X:\\für Bonn\\Bastian.ASF"
    np.testing.assert_allclose(m.positions, TINY_POSITIONS, atol=1e-12)
    utf8 = "\ufeff#!OML:ASF X:\\für Bonn\n".encode() + TINY_AMC.encode()
    assert read_amc(_write(tmp_path, "u.amc", utf8), asf=tiny[1]).metadata["amc_comment"].endswith("für Bonn")
    asf_latin = TINY_ASF.replace("three chains", "drei Ketten, Gr\xf6\xdfe").encode("latin-1")
    asf2 = _write(tmp_path, "latin.asf", asf_latin.replace(b"\n", b"\r\n"))
    np.testing.assert_allclose(read_amc(tiny[0], asf=asf2).positions, TINY_POSITIONS, atol=1e-12)


def test_irregular_layouts_read_line_by_line_give_the_same_motion(tmp_path, tiny):
    m = read_amc(tiny[0], asf=tiny[1])
    irregular = (
        TINY_AMC.replace("ltibia 90\nrfemur 30", "rfemur 30\n\n# a comment\n  ltibia\t90  ")
        .replace("lfemur 0 0 0", "lfemur  0 0 0 ")
        .replace("\n2\n", "\n\n 2\n")
    )
    other = read_amc(_write(tmp_path, "irr.amc", irregular), asf=tiny[1])
    np.testing.assert_array_equal(other.positions, m.positions)
    zero_based = TINY_AMC.replace("\n1\n", "\n0\n").replace("\n2\n", "\n1\n")
    assert read_amc(_write(tmp_path, "z.amc", zero_based), asf=tiny[1]).metadata["first_frame_number"] == 0
    one = read_amc(_write(tmp_path, "one.amc", TINY_AMC.split("2\n")[0]), asf=tiny[1])
    assert one.num_frames == 1


def test_regular_files_take_the_fast_path(tiny, tmp_path, monkeypatch):
    import posecast.io.asf_amc as asf_amc

    slow = asf_amc._diagnose
    expected = read_amc(tiny[0], asf=tiny[1])

    def refuse(*args):
        raise AssertionError("the line-by-line reader was used")

    monkeypatch.setattr(asf_amc, "_diagnose", refuse)
    crlf = _write(tmp_path, "crlf.amc", TINY_AMC.replace("\n", "\r\n"))
    for clip in (tiny[0], crlf):
        np.testing.assert_array_equal(read_amc(clip, asf=tiny[1]).positions, expected.positions)
    monkeypatch.setattr(asf_amc, "_diagnose", slow)
    # the values of one line moved to the next: the same count per frame, caught by the blank counts
    shifted = _write(tmp_path, "shifted.amc", TINY_AMC.replace("lfemur 90 0 0\nltibia 90", "lfemur 90 0\nltibia 0 90"))
    with pytest.raises(FormatError, match=r"line 11: frame 2, 'lfemur' has 2 values"):
        read_amc(shifted, asf=tiny[1])


# ---------------------------------------------------------------------------------- bad input
AMC_ERRORS = [
    ("rfemur 30", "rfemur 30\nfoo 1", r"line 14: frame 2 names bone 'foo', which the ASF tiny\.asf lacks"),
    ("rfemur 30", "rfemur 30\nspine 1", r"line 14: frame 2 gives values for bone 'spine', which has no dof"),
    ("ltibia 90", "ltibia 90 1", r"line 12: frame 2, 'ltibia' has 2 values; the ASF tiny\.asf declares 1 \(rx\)"),
    ("root 0 0 0 0 90 0", "root 0 0 0 0 90", r"'root' has 5 values; .* declares 6 \(tx ty tz rx ry rz\)"),
    ("\n2\n", "\n3\n", r"line 9: frame number 3 follows frame 1 \(frame\(s\) 2-2 missing"),
    ("\n2\n", "\n1\n", r"line 9: frame number 1 appears a second time \(first on line 4\)"),
    ("ltibia 90\n", "", r"frame 2 \(line 9\) has no line for 'ltibia'"),
    ("rfemur 30", "rfemur 30\nrfemur 30", r"line 14: frame 2 lists bone 'rfemur' twice"),
    ("lfemur 90 0 0", "lfemur 90 x 0", r"line 11: frame 2, 'lfemur' value 2: 'x' is not a number"),
    ("lfemur 90 0 0", "lfemur 90 nan 0", r"line 11: frame 2, 'lfemur' value 2 is 'nan'; values must be finite"),
    ("\n1\nroot", "\nroot", r"line 4: expected a frame number before the values of 'root'"),
    (":DEGREES\n", ":DEGREES\n:bonedata\n", r"line 4: :bonedata belongs to an ASF skeleton file"),
    ("root 0 0 0 0 90 0", "root 1e300 0 0 0 90 0", r"frame 1: a joint lies more than 100000 m from the origin"),
    # a control byte inside a value (the vectorised parser splits at every byte up to 32: it must not pass)
    ("lfemur 90 0 0", "lfemur 90\x01 0 0", r"line 11: frame 2, 'lfemur' value 1: '90\\x01' is not a number"),
    # a mistyped frame number: named, not enumerated (a set of every number up to it had exhausted the memory)
    ("\n1\nroot", "\n99999999999\nroot", r"numbered 2 \(line 9\) to 99999999999 \(line 4\), far more numbers"),
]


@pytest.mark.parametrize(("old", "new", "pattern"), AMC_ERRORS)
def test_amc_errors_name_the_file_line_and_problem(tiny, tmp_path, old, new, pattern):
    assert old in TINY_AMC
    bad = _write(tmp_path, "bad.amc", TINY_AMC.replace(old, new, 1))
    with pytest.raises(FormatError, match=pattern) as err:
        posecast.load(bad, asf=tiny[1])
    assert err.value.path == str(bad)


def test_frames_out_of_order_are_sorted_when_all_are_there(tiny, tmp_path):
    """Frames 1 and 2 written as 2, 1: read in the order of their numbers (it had been refused as 'frame(s) 2-1
    missing'); with a frame missing as well, the message names it."""
    frame1 = TINY_AMC[TINY_AMC.index("1\nroot") : TINY_AMC.index("2\nroot")]
    frame2 = TINY_AMC[TINY_AMC.index("2\nroot") :]
    header = TINY_AMC[: TINY_AMC.index("1\nroot")]
    swapped = _write(tmp_path, "swapped.amc", header + frame2 + frame1)
    m = read_amc(swapped, asf=tiny[1])
    np.testing.assert_allclose(m.positions, TINY_POSITIONS, atol=1e-12)
    assert m.metadata["first_frame_number"] == 1
    frame4 = frame2.replace("2\nroot", "4\nroot", 1)
    gap = _write(tmp_path, "gap.amc", header + frame4 + frame1 + frame2.replace("2\nroot", "5\nroot", 1))
    with pytest.raises(FormatError, match=r"frame\(s\) 2, 3 missing: the frames are numbered 1 to 5, out of order"):
        read_amc(gap, asf=tiny[1])


def test_truncated_and_empty_amc(tiny, tmp_path):
    cut = _write(tmp_path, "cut.amc", TINY_AMC.rsplit("rfemur", 1)[0])
    with pytest.raises(FormatError, match=r"frame 2 \(line 9\) has no line for 'rfemur'") as err:
        posecast.load(cut, asf=tiny[1])
    assert err.value.path == str(cut)
    header_only = _write(tmp_path, "h.amc", ":FULLY-SPECIFIED\n:DEGREES\n")
    with pytest.raises(FormatError, match="no frames"):
        read_amc(header_only, asf=tiny[1])
    empty = _write(tmp_path, "e.amc", "")
    for call in (lambda: posecast.load(empty, asf=tiny[1]), lambda: read_amc(empty, asf=tiny[1])):
        with pytest.raises(FormatError, match="empty"):
            call()
    blank_asf = _write(tmp_path, "blank.asf", " \n\n")
    with pytest.raises(FormatError, match="file is empty") as err:
        posecast.load(tiny[0], asf=blank_asf)
    assert err.value.path == str(blank_asf)
    with pytest.raises(FormatError, match="an AMC motion file .*, not an ASF skeleton"):
        posecast.load(tiny[0], asf=tiny[0])  # the clip given as its own skeleton


ASF_ERRORS = [
    (":bonedata", ":notbonedata", "no :bonedata section"),
    ("spine rfemur", "spine rfemur knee", r"line \d+: the hierarchy names 'knee', which is not a bone"),
    ("lfemur ltibia", "lfemur ltibia\n    hip lfemur", r"the hierarchy names 'hip'"),
    ("lfemur ltibia", "lfemur ltibia\n    ltibia lfemur", r"bone 'lfemur' has two parents"),
    ("root lfemur spine rfemur\n    lfemur ltibia", "root spine rfemur\n    lfemur ltibia\n    ltibia lfemur",
     r"bone\(s\) lfemur, ltibia are on a cycle or below one"),
    ("lfemur ltibia", "lfemur ltibia\n    spine root", r"'root' cannot be the child of 'spine' \(a cycle\)"),
    ("lfemur ltibia", "lfemur lfemur", r"bone 'lfemur' is its own parent"),
    ("name spine", "name lfemur", r"bone name 'lfemur' is used twice \(first on line"),
    ("name spine", "name root", "may not be called 'root'"),
    ("rfemur", "ltibia_end", r"joint name 'ltibia_end' is used twice"),
    ("length 3", "length -3", "negative length"),
    ("direction 0 2 0", "direction 0 0 0", r"direction 0 0 0; it needs a unit vector"),
    ("direction 0 2 0", "direction 0 two 0", r"direction 'two' is not a number"),
    ("    dof rz", "    dof rz tx", r"dof 'tx' \(bone translation or stretch\) is not supported"),
    ("    dof rz", "    dof rz rz", "a dof is repeated"),
    ("    dof rz", "    dof rw", "unknown dof 'rw'"),
    ("axis 0 0 90 XYZ", "axis 0 0 90 XXZ", "axis order 'XXZ' must be a permutation of XYZ"),
    ("angle deg", "angle grad", "angle must be deg or rad"),
    ("length 0.0254", "length 0", "length 0 must be positive"),
    (":hierarchy", ":nohierarchy", r"no :hierarchy section"),
    ("  end\n:hierarchy", ":hierarchy", r"not closed by 'end'"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "pattern"), ASF_ERRORS)
def test_asf_errors_name_the_asf_line_and_problem(tiny, tmp_path, old, new, pattern):
    assert old in TINY_ASF
    bad = _write(tmp_path, "bad.asf", TINY_ASF.replace(old, new))
    for call in (lambda: posecast.load(tiny[0], asf=bad), lambda: parse_asf(bad), lambda: posecast.load(bad)):
        with pytest.raises(FormatError, match=pattern) as err:
            call()
        assert err.value.path == str(bad)


def test_unknown_options_and_units(tiny):
    with pytest.raises(ValueRangeError, match="skeleton= does not apply to an AMC clip: its ASF names the joints"):
        posecast.load(tiny[0], asf=tiny[1], skeleton="cmu-bvh-31")
    with pytest.raises(ValueRangeError, match="unknown option"):
        posecast.load(tiny[0], asf=tiny[1], colour="red")
    with pytest.raises(ValueRangeError, match="unknown units"):
        read_amc(tiny[0], asf=tiny[1], units="furlong")


# ------------------------------------------------------------ an independent implementation
def _reference(asf: dict, frames: list[dict[str, list[float]]], amc_degrees: bool):
    """Straightforward per-frame FK from the Acclaim definition with scipy: bone start and end points.

    Every rotation is about fixed axes, first listed first (scipy lower-case sequences):
    global(bone) = global(parent) @ C @ M @ C^-1, end = start + global(bone) @ direction * length.
    """
    scale = 0.0254 / asf["length"]
    deg_asf = asf["angle"] == "deg"

    def fixed(seq: str, angles: list[float], degrees: bool) -> np.ndarray:
        return Rotation.from_euler(seq, angles, degrees=degrees).as_matrix() if seq else np.eye(3)

    out = []
    for values in frames:
        root_vals = dict(zip(asf["root_order"], values["root"], strict=True))
        seq = "".join(t[1] for t in asf["root_order"] if t[0] == "r")
        m = fixed(seq, [root_vals["r" + a] for a in seq], amc_degrees)
        c = fixed(asf["root_axis"], [asf["orientation"]["xyz".index(a)] for a in asf["root_axis"]], deg_asf)
        glob = {"root": c @ m @ c.T}
        trans = [root_vals.get("t" + a, 0.0) for a in "xyz"]
        start = {"root": (np.asarray(asf["position"]) + trans) * scale}
        end = {"root": start["root"]}
        local = {"root": glob["root"]}
        todo = list(asf["children"].get("root", []))
        parent = {k: "root" for k in todo}
        while todo:
            b = todo.pop(0)
            bone = asf["bones"][b]
            c = fixed(bone["order"], [bone["axis"]["xyz".index(a)] for a in bone["order"]], deg_asf)
            seq = "".join(a for a in bone["order"] if "r" + a in bone["dofs"])
            angles = [values[b][bone["dofs"].index("r" + a)] for a in seq] if seq else []
            local[b] = c @ fixed(seq, angles, amc_degrees) @ c.T
            glob[b] = glob[parent[b]] @ local[b]
            start[b] = end[parent[b]]
            d = np.asarray(bone["direction"], dtype=float)
            d = d / np.linalg.norm(d) if np.linalg.norm(d) > 0 else d
            end[b] = start[b] + glob[b] @ d * bone["length"] * scale
            for k in asf["children"].get(b, []):
                parent[k] = b
                todo.append(k)
        out.append((start, end, local))
    return out


def _asf_text(asf: dict) -> str:
    lines = [":version 1.10", f":name {asf['name']}", ":units", "  mass 1.0", f"  length {asf['length']!r}"]
    lines += [f"  angle {asf['angle']}", ":root", "  order " + " ".join(t.upper() for t in asf["root_order"])]
    lines += [f"  axis {asf['root_axis'].upper()}", "  position " + " ".join(map(repr, asf["position"]))]
    lines += ["  orientation " + " ".join(map(repr, asf["orientation"])), ":bonedata"]
    for k, (name, b) in enumerate(asf["bones"].items(), 1):
        lines += ["  begin", f"    id {k}", f"    name {name}", "    direction " + " ".join(map(repr, b["direction"]))]
        lines += [
            f"    length {b['length']!r}",
            "    axis " + " ".join(map(repr, b["axis"])) + " " + b["order"].upper(),
        ]
        if b["dofs"]:
            lines += ["    dof " + " ".join(b["dofs"]), "    limits" + " (-180.0 180.0)" * len(b["dofs"])]
        lines.append("  end")
    lines += [":hierarchy", "  begin"]
    lines += [f"    {p} {' '.join(kids)}" for p, kids in asf["children"].items()]
    lines.append("  end")
    return "\n".join(lines) + "\n"


def _amc_text(asf: dict, frames: list[dict[str, list[float]]], header: str, shuffle: list[int] | None) -> str:
    lines = [header] if header else []
    segs = ["root"] + [b for b, d in asf["bones"].items() if d["dofs"]]
    for i, values in enumerate(frames, 1):
        lines.append(str(i))
        order = [segs[k] for k in shuffle] if shuffle and i % 2 == 0 else segs
        lines += [f"{s} " + " ".join(repr(float(v)) for v in values[s]) for s in order]
    return "\n".join(lines) + "\n"


@st.composite
def asf_amc_sources(draw):
    n = draw(st.integers(1, 6))
    names = [draw(st.sampled_from(["b", "lb", "rb", "x_y"])) + str(i) for i in range(n)]
    parents = [draw(st.sampled_from(["root", *names[:i]])) for i in range(n)]
    angle = st.floats(-180, 180, allow_nan=False, width=32)
    order = st.permutations("xyz").map("".join)
    bones = {}
    for name in names:
        dofs = draw(st.lists(st.sampled_from(["rx", "ry", "rz"]), unique=True, max_size=3))
        direction = [draw(st.floats(-1, 1, width=32)) for _ in range(3)]
        if not any(direction):
            direction[1] = 1.0
        bones[name] = {
            "direction": direction,
            "length": draw(st.floats(0, 5, width=32)),
            "axis": [draw(angle) for _ in range(3)],
            "order": draw(order),
            "dofs": draw(st.permutations(dofs)),
        }
    children: dict[str, list[str]] = {}
    for name, p in zip(names, parents, strict=True):
        children.setdefault(p, []).append(name)
    radians = draw(st.booleans())
    asf = {
        "name": draw(st.sampled_from(["VICON", "actor one"])),
        "length": draw(st.sampled_from([0.45, 1.0, 0.0254, 2.54])),
        "angle": "rad" if radians else "deg",
        "root_order": draw(st.permutations(["tx", "ty", "tz", "rx", "ry", "rz"])),
        "root_axis": draw(order),
        "position": [draw(st.floats(-2, 2, width=32)) for _ in range(3)],
        "orientation": [draw(angle) * (np.pi / 180 if radians else 1) for _ in range(3)],
        "bones": bones,
        "children": children,
    }
    header_unit = draw(st.sampled_from(["", ":DEGREES", ":RADIANS"]))
    amc_degrees = header_unit == ":DEGREES" or (header_unit == "" and not radians)
    value = st.floats(-360, 360, allow_nan=False, width=32).map(lambda v: v if amc_degrees else v * np.pi / 180)
    frames = []
    for _ in range(draw(st.integers(1, 4))):
        f = {"root": [draw(value) if t[0] == "r" else draw(st.floats(-50, 50, width=32)) for t in asf["root_order"]]}
        for b, d in bones.items():
            if d["dofs"]:
                f[b] = [draw(value) for _ in d["dofs"]]
        frames.append(f)
    segs = 1 + sum(1 for d in bones.values() if d["dofs"])
    shuffle = draw(st.permutations(range(segs))) if draw(st.booleans()) else None
    text = _amc_text(asf, frames, ":FULLY-SPECIFIED\n" + header_unit if header_unit else "", shuffle)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return asf, frames, amc_degrees, text


FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(src=asf_amc_sources())
def test_random_skeletons_match_the_independent_implementation(tmp_path, src):
    asf, frames, amc_degrees, text = src
    asf_path = _write(tmp_path, "r.asf", _asf_text(asf))
    m = posecast.load(_write(tmp_path, "r.amc", text), asf=asf_path)
    ref = _reference(asf, frames, amc_degrees)
    names = m.skeleton.joint_names
    assert len(names) == 1 + len(asf["bones"]) + sum(1 for b in asf["bones"] if b not in asf["children"])
    for t, (start, end, local) in enumerate(ref):
        for j, name in enumerate(names):
            if name.endswith("_end") and name[:-4] in asf["bones"] and name[:-4] not in asf["children"]:
                np.testing.assert_allclose(m.positions[t, j], end[name[:-4]], atol=1e-9)
                np.testing.assert_array_equal(m.rotations[t, j], np.eye(3))
            else:
                np.testing.assert_allclose(m.positions[t, j], start[name], atol=1e-9)
                np.testing.assert_allclose(m.rotations[t, j], local[name], atol=1e-9)
    # a proper local-rotation motion: written to BVH and read back, the same positions
    unit = m.metadata["metres_per_unit"]  # the BVH is written in the ASF's length unit
    back = read_bvh(posecast.save(m, tmp_path / "r.bvh"), units=unit, end_sites=True)
    assert back.skeleton.joint_names == names
    np.testing.assert_allclose(back.positions, m.positions, atol=1e-6)


JUNK = ["", "nan", "inf", "1e999", "root", "begin", "end", ":bonedata", ":hierarchy", "dof", "rx", "tx", "abc",
        "1.2.3", "-", "0", "7", "99999", "\x00", "é", "\r", "\t", "#", "(", "XYZ"]  # fmt: skip


@FAST
@given(src=asf_amc_sources(), data=st.data())
def test_random_corruptions_raise_only_posecast_errors(tmp_path, src, data):
    asf, _, _, amc = src
    texts = {"asf": _asf_text(asf).encode(), "amc": amc.encode()}
    which = data.draw(st.sampled_from(["asf", "amc"]))
    raw = texts[which]
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
    texts[which] = raw
    asf_path = _write(tmp_path, "c.asf", texts["asf"])
    amc_path = _write(tmp_path, "c.amc", texts["amc"])
    for call in (lambda: posecast.load(amc_path, asf=asf_path), lambda: read_amc(amc_path), lambda: read_asf(asf_path)):
        try:
            m = call()
        except PosecastError as exc:
            assert exc.path in (str(asf_path), str(amc_path))
            continue
        assert isinstance(m, Motion) and np.isfinite(m.positions).all()


# ------------------------------------------------------------------------------- the CLI
def test_cli_forecast_with_asf_option_and_a_bad_clip(tmp_path, tiny):
    amc = _write(tmp_path / "clips", "walk.amc", "\n".join(
        f"{i}\nroot {0.01 * i} 1 0 0 {i} 0\nlfemur {i} 0 0\nltibia {i}\nrfemur 0" for i in range(1, 121)
    ) + "\n")  # fmt: skip
    env = {**os.environ}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "posecast", *args], capture_output=True, text=True, env=env)

    out = tmp_path / "f.npz"
    r = run("forecast", str(amc), "--asf", str(tiny[1]), "--model", "constant-velocity", "--out", str(out))
    assert r.returncode == 0, r.stderr
    fc = posecast.load(out)
    assert fc.skeleton.joint_names == TINY_NAMES and fc.fps == 120.0
    bad = _write(tmp_path / "clips", "bad.amc", TINY_AMC.replace("ltibia 90", "ltibia 90 1"))
    r = run(
        "forecast", str(bad), "--asf", str(tiny[1]), "--model", "constant-velocity", "--out", str(tmp_path / "g.npz")
    )
    assert r.returncode == 2 and not (tmp_path / "g.npz").exists()
    assert "bad.amc: line 12: frame 2, 'ltibia' has 2 values" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # `posecast info` takes --asf too (the error without it tells the user to pass one)
    r = run("info", str(amc), "--json")
    assert r.returncode == 2 and "--asf FILE" in r.stderr, r.stderr
    r = run("info", str(amc), "--asf", str(tiny[1]), "--fps", "60", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["frames"] == 120 and d["fps"] == 60.0 and d["joints"] == len(TINY_NAMES)


# ------------------------------------------------------------------------------ real HDM05 data
@pytest.fixture(scope="module")
def hdm05_dir() -> Path:
    path = dataset_dir("hdm05_cuts", required=False)
    if path is None:
        pytest.skip("real data 'hdm05_cuts' not available: set POSECAST_DATA to the shared data root")
    return path


def _parse_for_reference(asf_path: Path) -> dict:
    """The few ASF facts `_reference` needs, read with plain string handling (independent of the reader)."""
    text = asf_path.read_text(encoding="latin-1")
    bones: dict[str, dict] = {}
    cur: dict = {}
    for line in text.split(":bonedata")[1].split(":hierarchy")[0].splitlines():
        toks = line.replace("(", " ").replace(")", " ").split()
        if not toks:
            continue
        if toks[0] == "begin":
            cur = {"dofs": [], "axis": [0, 0, 0], "order": "xyz"}
        elif toks[0] == "end":
            bones[cur.pop("name")] = cur
        elif toks[0] == "name":
            cur["name"] = toks[1]
        elif toks[0] == "direction":
            cur["direction"] = [float(v) for v in toks[1:4]]
        elif toks[0] == "length":
            cur["length"] = float(toks[1])
        elif toks[0] == "axis":
            cur["axis"], cur["order"] = [float(v) for v in toks[1:4]], toks[4].lower()
        elif toks[0] == "dof":
            cur["dofs"] = [t.lower() for t in toks[1:]]
    children = {}
    for line in text.split(":hierarchy")[1].splitlines():
        toks = line.split()
        if toks and toks[0] not in ("begin", "end"):
            children[toks[0]] = toks[1:]
    return {
        "length": 0.45,
        "angle": "deg",
        "root_order": ["tx", "ty", "tz", "rx", "ry", "rz"],
        "root_axis": "xyz",
        "position": [0.0, 0.0, 0.0],
        "orientation": [0.0, 0.0, 0.0],
        "bones": bones,
        "children": children,
    }


def test_real_hdm05_clips(hdm05_dir, tmp_path, monkeypatch):
    import posecast.io.asf_amc as asf_amc

    def refuse(*args):
        raise AssertionError("the line-by-line reader was used on a regular HDM05 clip")

    monkeypatch.setattr(asf_amc, "_diagnose", refuse)  # every clip takes the fast path
    clips = sorted((hdm05_dir / "bd").glob("*.amc"))
    assert len(clips) == 62
    asf_path = hdm05_dir / "asf" / "HDM_bd.asf"
    skel = parse_asf(asf_path)
    assert skel.length_multiplier == 0.45 and skel.name == "VICON"
    rest = posecast.load(asf_path)
    extent = rest.positions[0].max(axis=0) - rest.positions[0].min(axis=0)
    assert 1.5 < extent[1] < 1.9  # toes to the top of the head in the rest pose, metres
    total = 0
    for clip in clips:
        m = posecast.load(clip)
        total += m.num_frames
        assert m.fps == 120.0 and m.skeleton.name == "asf-HDM_bd" and m.skeleton.num_joints == 38
        assert m.metadata["asf"] == str(asf_path) and m.metadata["fps_source"] == "file name"
        assert -0.1 < m.positions[..., 1].min() < 0.1  # on the floor (a hand may dip a few cm), y up
    assert total == 13266  # MANIFEST.csv: 1.84 min at 120 Hz
    squat = posecast.load(hdm05_dir / "bd" / "HDM_bd_squat1Reps_001_120.amc")
    ix = {n: i for i, n in enumerate(squat.skeleton.joint_names)}
    standing = squat.positions[0]
    assert 1.55 < standing[ix["head_end"], 1] - standing[:, 1].min() < 1.9  # body height, metres
    deep = squat.positions[np.argmin(squat.positions[:, 0, 1])]
    hips = deep[ix["lfemur"]] - deep[ix["rfemur"]]
    forward = np.cross(hips, [0.0, 1.0, 0.0])
    forward /= np.linalg.norm(forward)
    assert (deep[ix["ltoes"]] - deep[ix["lfoot"]]) @ forward > 0.05  # toes point forward
    assert (deep[ix["ltibia"]] - deep[ix["lfoot"]]) @ forward > 0.15  # knees forward of the ankles
    assert (deep[ix["lfemur"]] - deep[ix["ltibia"]]) @ forward < -0.15  # hips back
    # the independent implementation, on the first frames of a clip
    clip = hdm05_dir / "bd" / "HDM_bd_kickLFront1Reps_001_120.amc"
    m = read_amc(clip, asf=asf_path)
    frames: list[dict[str, list[float]]] = [{}]
    for line in clip.read_bytes().decode("latin-1").replace("\r", "").split("\n1\n", 1)[1].split("\n")[:300]:
        toks = line.split()
        if len(toks) == 1:  # the next frame number
            frames.append({})
        elif toks:
            frames[-1][toks[0]] = [float(v) for v in toks[1:]]
    frames = frames[:8]
    assert len(frames) == 8 and all(len(f) == 29 for f in frames)  # the root and 28 bones with dofs
    ref = _reference(_parse_for_reference(asf_path), frames, True)
    for t, (start, end, _) in enumerate(ref):
        for name in ("lfemur", "ltibia", "lfoot", "head", "rhumerus", "rradius", "lthumb"):
            np.testing.assert_allclose(m.positions[t, ix[name]], start[name], atol=1e-9)
        np.testing.assert_allclose(m.positions[t, ix["rfingers_end"]], end["rfingers"], atol=1e-9)
    # gzip-compressed, with the ASF found in ../asf
    gz_dir = tmp_path / "bd"
    gz_dir.mkdir()
    gz = gz_dir / (clip.name + ".gz")
    gz.write_bytes(gzip.compress(clip.read_bytes()))
    (tmp_path / "asf").mkdir()
    (tmp_path / "asf" / "HDM_bd.asf.gz").write_bytes(gzip.compress(asf_path.read_bytes()))
    np.testing.assert_array_equal(posecast.load(gz).positions, m.positions)
