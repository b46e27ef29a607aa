"""People small in the frame: detection and keypoint accuracy of the pose backend's tile search.

Usage::

    POSECAST_DATA=../shared/data .venv/bin/python benchmarks/small_people.py [--clips squats_pexels_tfjs.mp4 ...]
        [--fractions 0.5,0.35,0.25,0.18] [--json PATH]

Protocol (printed with the table): each shared clip (its first 6 s) is pasted, scaled to a fraction of the frame's
height, into a 1920 x 1080 frame over a blurred noise background (at 0.3 of the free width, centred vertically)
and written as H.264 at 30 fps to a temporary folder; `posecast.video.extract_poses` runs on it with the default
backend (MediaPipe with the search, `posecast.video.search`) and with the detector alone
(``MediaPipePoseBackend(search=False)``). Reported: the share of frames with a person, and the keypoints' mean
distance (mean over frames of the mean over the 33 joints; and the 90th percentile over frames) to MediaPipe's
keypoints on the original clip mapped into the pasted frame, in % of the person's height there (the reference's
own noise is part of it), and frames per second of the extraction (decode + pose) on this machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

CANVAS = (1920, 1080)
CLIPS = ("squats_pexels_tfjs.mp4", "basketball_dribble_mmhuman3d.mp4", "bowling_pennaction_phd.mp4")


def paste(src: Path, frac: float, out: Path) -> tuple[float, int, int, int, int]:
    """Write ``src`` pasted at ``frac`` of the canvas height to ``out``; ``(scale x, scale y, x0, y0)`` of the
    paste and the pasted size."""
    import av
    import cv2

    from posecast.video.decode import iter_frames, probe_video

    w, h = CANVAS
    info = probe_video(src)
    s = frac * h / info.height
    sw, sh = max(2, int(info.width * s)), max(2, int(info.height * s))
    x0, y0 = int(0.3 * (w - sw)), int(0.5 * (h - sh))
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur((rng.random((h, w, 3)) * 120 + 60).astype(np.uint8), (0, 0), 25)
    with av.open(str(out), "w") as cont:
        st = cont.add_stream("h264", rate=30)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for _, rgb in iter_frames(src, max_time=6):
            frame = bg.copy()
            frame[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
            for packet in st.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                cont.mux(packet)
        for packet in st.encode():
            cont.mux(packet)
    return sw / info.width, sh / info.height, x0, y0, sh


def main() -> None:
    from posecast.datasets import dataset_dir
    from posecast.video.backend import MediaPipePoseBackend
    from posecast.video.extract import extract_poses

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", nargs="*", default=list(CLIPS))
    ap.add_argument("--fractions", default="0.5,0.35,0.25,0.18")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    video = Path(dataset_dir("video"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="posecast-small-") as tmp:
        for clip in args.clips:
            ref = extract_poses(video / clip, max_time=6, backend=MediaPipePoseBackend(search=False))
            for frac in (float(f) for f in args.fractions.split(",")):
                out = Path(tmp) / f"{Path(clip).stem}_{frac:g}.mp4"
                sx, sy, x0, y0, _ = paste(video / clip, frac, out)
                mapped = ref.keypoints * np.array([sx, sy]) + [x0, y0]
                height = np.ptp(mapped[..., 1], axis=-1)
                row = {"clip": clip, "fraction": frac}
                backends = (("search", MediaPipePoseBackend()), ("alone", MediaPipePoseBackend(search=False)))
                for label, backend in backends:
                    t0 = time.perf_counter()
                    try:
                        track = extract_poses(out, backend=backend)
                    except Exception as exc:  # noqa: BLE001 - "no person found" is a result here
                        row[label] = {"detected": 0.0, "error": str(exc).split(": ", 1)[-1]}
                        continue
                    wall = time.perf_counter() - t0
                    ok = track.detected & ref.detected
                    err = np.linalg.norm(track.keypoints - mapped, axis=-1).mean(-1) / height
                    row[label] = {
                        "detected": float(track.detected.mean()),
                        "error_pct_mean": float(100 * np.mean(err[ok])) if ok.any() else None,
                        "error_pct_p90": float(100 * np.percentile(err[ok], 90)) if ok.any() else None,
                        "fps": track.num_frames / wall,
                    }
                rows.append(row)
                s, a = row["search"], row["alone"]
                print(
                    f"{clip:34s} {frac:5.2f}  search: {100 * s['detected']:5.1f} % found, "
                    f"{s.get('error_pct_mean') or float('nan'):4.2f} % "
                    f"(p90 {s.get('error_pct_p90') or float('nan'):4.2f}), "
                    f"{s.get('fps', float('nan')):4.1f} fps   alone: {100 * a['detected']:5.1f} % found",
                    flush=True,
                )
    print("\nprotocol:", " ".join(__doc__.split("Protocol (printed with the table): ")[1].split()))
    if args.json:
        args.json.write_text(json.dumps({"protocol": __doc__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
