"""The training corpus packed for travel (a rented GPU without the data): `pack` writes a corpus file
(`posecast.datasets.corpus.build`'s ``.npz``) as one lossless compressed file — each coordinate's series
made contiguous, bit patterns differenced along time with wrap-around, the bytes of each value split into
planes, LZMA: 47 MB -> 21 MB for the current corpus — and `unpack` restores the exact ``.npz``
(``posecast corpus pack|unpack``); ``POSECAST_CORPUS_FILE`` then points `posecast.datasets.corpus.load`
at it.

Its own module so that the corpus cache key (which hashes the source of the code that *makes* the
corpus, `posecast.datasets.corpus.CODE`) does not change when the packer does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import FormatError
from posecast.io.registry import atomic_output

PACK_FORMAT = "posecast-corpus-pack-1"


def _planes(values: np.ndarray) -> np.ndarray:
    """``(N, C)`` unsigned ints → bytes: per column the differences along time (wrapping), the columns one
    after another, the bytes of each value in planes (all first bytes, then all second bytes...)."""
    d = np.concatenate([values[:1], values[1:] - values[:-1]])
    width = values.dtype.itemsize
    b = np.ascontiguousarray(d.T).view(np.uint8).reshape(-1, width)
    return np.ascontiguousarray(b.T).reshape(-1)


def _unplanes(planes: np.ndarray, rows: int, dtype: Any) -> np.ndarray:
    """Inverse of `_planes`: ``(rows, C)`` of unsigned ``dtype``."""
    width = np.dtype(dtype).itemsize
    if planes.size % (width * max(rows, 1)):
        raise ValueError("plane size does not fit the row count")
    b = np.ascontiguousarray(planes.reshape(width, -1).T).reshape(-1)
    d = b.view(dtype).reshape(-1, rows).T
    return np.cumsum(d, axis=0, dtype=dtype)


def pack(corpus_file: str | Path, out: str | Path) -> Path:
    """Write corpus file ``corpus_file`` (`build`'s ``.npz``) losslessly compressed to ``out`` (module
    docstring); `unpack` restores it bit for bit."""
    import io
    import lzma

    try:  # one read of the file: the arrays as stored (the table and meta as their raw bytes)
        with np.load(corpus_file, allow_pickle=False) as z:
            rel, root, offsets, raw_table, raw_meta = (z[k] for k in ("rel", "root", "offsets", "table", "meta"))
            key = json.loads(raw_meta.tobytes().decode()).get("key", "")
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(f"not a PoseCast corpus file: {exc}", corpus_file) from None
    n = rel.shape[0]
    buf = io.BytesIO()
    meta = {"format": PACK_FORMAT, "rows": n, "joints": int(rel.shape[1]), "key": key}
    np.savez(
        buf,
        rel=_planes(np.ascontiguousarray(rel).view(np.uint16).reshape(n, -1)),
        root=_planes(np.ascontiguousarray(root).view(np.uint32)),
        offsets=offsets,
        table=raw_table,
        meta=raw_meta,
        pack=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )
    out = Path(out)
    with atomic_output(out) as tmp:
        tmp.write_bytes(lzma.compress(buf.getvalue(), preset=6))
    return out


def unpack(packed: str | Path, out: str | Path) -> Path:
    """Restore the corpus ``.npz`` written to `pack`'s file ``packed`` as ``out``."""
    import io
    import lzma

    packed = Path(packed)
    try:
        with np.load(io.BytesIO(lzma.decompress(packed.read_bytes())), allow_pickle=False) as z:
            info = json.loads(z["pack"].tobytes().decode())
            if info.get("format") != PACK_FORMAT:
                raise ValueError(f"format {info.get('format')!r}, expected {PACK_FORMAT!r}")
            n, joints = int(info["rows"]), int(info["joints"])
            rel = _unplanes(z["rel"], n, np.uint16).view(np.float16).reshape(n, joints, 3)
            root = _unplanes(z["root"], n, np.uint32).view(np.float32)
            arrays = {"rel": rel, "root": root, "offsets": z["offsets"], "table": z["table"], "meta": z["meta"]}
    except (OSError, KeyError, ValueError, lzma.LZMAError) as exc:
        raise FormatError(f"not a packed PoseCast corpus: {exc}", packed) from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return out
