"""GPS to visits: geocalliper against trackintel 1.4.2 on the same GeoLife PLT files.

Both sides run the MHSA pipeline from the raw files to located activity staypoints:
read the PLT files; staypoints (200 m, 30 min, 24 h gap, the last stretch kept); activity
flag (> 25 min); DBSCAN locations over all users (eps 20 m, 2 samples, haversine).

- **trackintel**: ``read_geolife``, ``generate_staypoints(..., include_last=True)``,
  ``create_activity_flag``, ``generate_locations(agg_level="dataset")`` (one job, as
  ``n_jobs`` defaults), i.e. the calls of MHSA's ``preprocessing/geolife.py``;
- **geocalliper**: ``gps_to_visits(folder, haversine_order="trackintel",
  return_staypoints=True)``, which reads the folder one user at a time.

Each side runs in its own fresh subprocess; its wall time, CPU time and peak resident
memory (``ru_maxrss`` of that child, from ``os.wait4``) are measured, and the child
reports its resident memory after its imports (so the working memory above the import
baseline shows apart). Both sides' staypoints (user, start, end) and location
partitions are compared, so the speed is for identical output.

The shared data hold 11 GeoLife users (164,531 fixes). To see how time and memory grow
with the number of users, ``--copies 1,8`` also runs a folder in which each user appears
8 times under new ids (symlinks to the same real files in a temporary folder; nothing is
copied). Runs alternate between the two sides; ``--repeats`` keeps the best time (and the
largest peak memory) of each.

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/gps_pipeline.py                  # 1 and 8 copies
    HF_HUB_OFFLINE=1 python benchmarks/gps_pipeline.py --copies 1       # smoke test

Prints a table and writes ``benchmarks/results/gps_pipeline.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = (
    Path(  # GEOCALLIPER_DATA: the one data variable of tests and examples too
        os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
    )
    / "geolife-gps"
    / "geolife_long_10_MB"
)
RESULTS = ROOT / "benchmarks" / "results" / "gps_pipeline.json"
SIDES = ("geocalliper", "trackintel")


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _digest(users, starts, ends, locs) -> tuple[str, str]:
    """Hashes of the staypoint set and of the location partition."""
    keys = sorted(
        zip((int(u) for u in users), (str(s) for s in starts), (str(e) for e in ends), strict=True)
    )
    groups: dict = {}
    for key, loc in zip(
        zip((int(u) for u in users), (str(s) for s in starts), strict=True), locs, strict=True
    ):
        if loc is not None and str(loc) not in ("nan", "<NA>"):
            groups.setdefault(int(loc), []).append(key)
    part = sorted(sorted(g) for g in groups.values())
    return (
        hashlib.sha256(repr(keys).encode()).hexdigest()[:16],
        hashlib.sha256(repr(part).encode()).hexdigest()[:16],
    )


def worker(side: str, folder: str) -> dict:
    """Run one side in this (fresh) process and return its figures."""
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    if side == "geocalliper":  # what the run needs, imported up front as trackintel's are
        import pyarrow.csv  # noqa: F401
        import sklearn.cluster  # noqa: F401

        from geocalliper.mobility import gps_to_visits
    else:
        import glob

        from trackintel.io import dataset_reader

        unsorted = glob.glob
        dataset_reader.glob.glob = lambda p: sorted(unsorted(p))  # same order as ours
    import_s = time.perf_counter() - t0
    rss_after_import = _rss_mb()
    t1 = time.perf_counter()
    if side == "geocalliper":
        _visits, _locs, sp = gps_to_visits(
            folder, haversine_order="trackintel", return_staypoints=True, progress=False
        )
        act = sp[sp["is_activity"]]
        n_fixes = sp.attrs["gps_report"]["fixes_read"]
    else:
        pfs, _ = dataset_reader.read_geolife(folder)
        n_fixes = len(pfs)
        pfs, sp = pfs.generate_staypoints(
            gap_threshold=24 * 60, include_last=True, dist_threshold=200, time_threshold=30
        )
        sp = sp.create_activity_flag(method="time_threshold", time_threshold=25)
        act = sp[sp["is_activity"]]
        act, _locs = act.generate_locations(
            epsilon=20, num_samples=2, distance_metric="haversine", agg_level="dataset"
        )
    run_s = time.perf_counter() - t1
    sp_hash, _ = _digest(sp["user_id"], sp["started_at"], sp["finished_at"], [None] * len(sp))
    _, part_hash = _digest(
        act["user_id"], act["started_at"], act["finished_at"], act["location_id"].tolist()
    )
    return {
        "side": side,
        "import_s": import_s,
        "run_s": run_s,
        "rss_after_import_mb": rss_after_import,
        "fixes_read": int(n_fixes),
        "staypoints": len(sp),
        "activity_staypoints": len(act),
        "located": int(act["location_id"].notna().sum()),
        "staypoints_hash": sp_hash,
        "partition_hash": part_hash,
    }


def _run_child(side: str, folder: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    out.close()
    cmd = [sys.executable, __file__, "--worker", side, "--folder", str(folder), "--out", out.name]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the {side} run failed (exit {proc.returncode})")
    figures = json.loads(Path(out.name).read_text())
    os.unlink(out.name)
    figures.update(
        process_wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
    )
    figures["working_mb"] = figures["peak_rss_mb"] - figures["rss_after_import_mb"]
    return figures


def _copies_folder(src: Path, copies: int, tmp: Path) -> Path:
    if copies == 1:
        return src
    dest = tmp / f"copies_{copies}"
    for k in range(copies):
        for user in sorted(p for p in src.iterdir() if (p / "Trajectory").is_dir()):
            (dest / f"{k:03d}{user.name}").mkdir(parents=True)
            (dest / f"{k:03d}{user.name}" / "Trajectory").symlink_to(user / "Trajectory")
    return dest


def _best(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda r: r["run_s"]))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["working_mb"] = max(r["working_mb"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="GeoLife Data folder")
    parser.add_argument("--copies", default="1,8", help="comma-separated copy counts")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        figures = worker(args.worker, args.folder)
        Path(args.out).write_text(json.dumps(figures))
        return
    if not args.data.is_dir():
        sys.exit(f"No GeoLife PLT folder at {args.data}; pass --data.")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for copies in (int(c) for c in args.copies.split(",")):
            folder = _copies_folder(args.data, copies, Path(tmp))
            runs: dict[str, list[dict]] = {s: [] for s in SIDES}
            for _ in range(args.repeats):
                for side in SIDES:
                    runs[side].append(_run_child(side, folder))
            ours, ti = _best(runs["geocalliper"]), _best(runs["trackintel"])
            rows.append(
                {
                    "copies": copies,
                    "users": 11 * copies if args.data == DATA else None,
                    "geocalliper": ours,
                    "trackintel": ti,
                    "speedup": ti["run_s"] / ours["run_s"],
                    "speedup_process": ti["process_wall_s"] / ours["process_wall_s"],
                    "peak_ratio": ours["peak_rss_mb"] / ti["peak_rss_mb"],
                    "working_ratio": ours["working_mb"] / ti["working_mb"],
                    "same_staypoints": ours["staypoints_hash"] == ti["staypoints_hash"],
                    "same_partition": ours["partition_hash"] == ti["partition_hash"],
                }
            )
    header = (
        f"{'copies':>6} {'fixes':>10} {'side':<12} {'run s':>7} {'proc s':>7} {'cpu s':>7} "
        f"{'peak MB':>8} {'work MB':>8} {'staypoints':>10} {'same':>5}"
    )
    print(header)
    for r in rows:
        for side in SIDES:
            f = r[side]
            same = "yes" if r["same_staypoints"] and r["same_partition"] else "NO"
            print(
                f"{r['copies']:>6} {f['fixes_read']:>10,} {side:<12} {f['run_s']:>7.2f} "
                f"{f['process_wall_s']:>7.2f} {f['cpu_s']:>7.2f} {f['peak_rss_mb']:>8.0f} "
                f"{f['working_mb']:>8.0f} {f['staypoints']:>10,} {same:>5}"
            )
        print(
            f"{'':>6} speed-up {r['speedup']:.1f}x (whole process {r['speedup_process']:.1f}x); "
            f"peak memory {r['peak_ratio']:.2f} of trackintel's, working memory "
            f"{r['working_ratio']:.2f}"
        )
    result = {
        "command": "python benchmarks/gps_pipeline.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
        "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_name(f".{args.out.name}.tmp-{os.getpid()}")
    tmp_out.write_text(json.dumps(result, indent=2))
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
