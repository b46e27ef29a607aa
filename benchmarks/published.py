"""Published CMU-Mocap numbers (all-windows protocol, 38-joint average, benchmark "mm", 10 -> 25 frames).

Copied as data from ../shared/docs/published_numbers.md §1.2, whose sources are: Res-sup, LTD and
MSR-GCN from Droliven/MSRGCN ``datas_in_paper.md``; PGBIG from 705062791/PGBIG
``checkpoint/main_cmu_3d_all_in10_out25_ks10_dctn35_dropout_0.3_lr_0.005_d_model_16_e_6_d_6/test_all_eval.csv``.
Horizon labels 80 / 160 / 320 / 400 / 560 / 1000 "ms" (25-fps convention; the data is 60 Hz).
"""

from __future__ import annotations

LABELS = ("80", "160", "320", "400", "560", "1000")

CMU_ALL_WINDOWS = {
    "Res-sup": {
        "basketball": (15.45, 26.88, 43.51, 49.23, 54.30, 72.83),
        "jumping": (26.85, 48.07, 93.50, 108.90, 128.83, 162.84),
        "running": (25.76, 48.91, 88.19, 100.80, 123.91, 158.19),
        "soccer": (17.75, 31.30, 52.55, 61.40, 72.33, 107.37),
        "walking": (44.35, 76.66, 126.83, 151.43, 182.44, 194.33),
        "washwindow": (22.84, 44.71, 86.78, 104.68, 136.30, 202.73),
    },
    "LTD": {
        "basketball": (11.68, 21.26, 40.99, 50.78, 68.05, 97.99),
        "jumping": (17.18, 32.37, 60.12, 72.55, 93.78, 127.41),
        "running": (14.53, 24.20, 37.44, 41.10, 43.52, 51.73),
        "soccer": (13.33, 24.00, 43.77, 53.20, 70.85, 108.26),
        "walking": (6.62, 10.74, 17.40, 20.35, 25.18, 34.41),
        "washwindow": (5.96, 11.62, 24.77, 31.63, 43.92, 66.95),
    },
    "MSR-GCN": {
        "basketball": (10.28, 18.94, 37.68, 47.03, 62.77, 86.96),
        "jumping": (14.99, 28.66, 55.86, 69.05, 92.13, 124.79),
        "running": (12.84, 20.42, 30.58, 34.42, 38.78, 48.03),
        "soccer": (10.92, 19.50, 37.05, 46.38, 64.41, 99.32),
        "walking": (6.31, 10.30, 17.64, 21.12, 27.24, 39.70),
        "washwindow": (5.49, 11.07, 25.05, 32.51, 45.87, 71.30),
    },
    "PGBIG": {
        "basketball": (9.5, 17.5, 35.3, 44.2, 59.4, 84.1),
        "jumping": (13.9, 27.8, 55.8, 69.0, 91.7, 125.6),
        "running": (12.7, 23.2, 38.3, 42.2, 45.0, 51.7),
        "soccer": (11.1, 20.6, 39.5, 48.7, 65.4, 100.0),
        "walking": (6.2, 10.3, 16.8, 19.8, 25.1, 33.9),
        "washwindow": (4.6, 9.2, 20.9, 27.3, 39.7, 65.7),
    },
}


def average(method: str, actions: tuple[str, ...]) -> dict[str, float]:
    """Unweighted mean over ``actions`` of a published method, per horizon label."""
    rows = [CMU_ALL_WINDOWS[method][a] for a in actions]
    return {label: sum(r[i] for r in rows) / len(rows) for i, label in enumerate(LABELS)}
