"""The GPS subcommands of ``geocalliper``: ``gps-to-visits`` and ``split``.

``register(subparsers)`` adds them to the command's parser; each handler returns the
exit status. Together with ``pretrain-activity``, ``fit-predictor`` and ``evaluate``
they take raw GeoLife files to a scored next-location predictor from the shell::

    geocalliper gps-to-visits "Geolife Trajectories 1.3/Data" --out geolife.gpkg \\
        --min-tracked-days 50 --merge-gap 1
    geocalliper split geolife.gpkg --out visits.gpkg
    geocalliper pretrain-activity visits.gpkg --out activity-model
    geocalliper fit-predictor visits.gpkg --calliper activity-model --out geolife-next
    geocalliper evaluate geolife-next visits.gpkg --split test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

GPS_EXAMPLES = {
    "gps-to-visits": (
        "examples:\n"
        '  geocalliper gps-to-visits "Geolife Trajectories 1.3/Data" --out geolife.gpkg\n'
        "  geocalliper gps-to-visits Data --out geolife.gpkg --min-tracked-days 50 "
        "--merge-gap 1\n"
        "  geocalliper gps-to-visits fixes.parquet --out visits.gpkg --tz Asia/Shanghai\n"
        "SOURCE is a GeoLife Data folder (NNN/Trajectory/*.plt, read one user at a time),\n"
        "or a CSV (user_id, tracked_at, lon/lat or WKT) or GeoParquet of fixes. The\n"
        "GeoPackage gets three layers: visits, staypoints and locations. Times are\n"
        "written in UTC, or as the wall clock of --tz when another zone is given."
    ),
    "split": (
        "examples:\n"
        "  geocalliper split geolife.gpkg --out visits.gpkg\n"
        "  geocalliper split visits.csv --fractions 0.7 0.1 0.2 --out visits-split.csv\n"
        "Adds a split column (train/valid/test): per user, by day, 60/20/20 by default\n"
        "(the MHSA protocol). From a gps-to-visits GeoPackage it reads the visits layer."
    ),
}


def _source_label(source: str) -> str:
    return "PLT folder" if Path(source).is_dir() else "fixes file"


def cmd_gps_to_visits(args: argparse.Namespace) -> int:
    """``geocalliper gps-to-visits SOURCE --out FILE.gpkg``."""
    from ..mobility.gpsio import write_gps_layers
    from ..mobility.staypoints import gps_to_visits

    out = Path(args.out)
    if out.suffix.lower() != ".gpkg":
        raise ValueError(f"Cannot write --out {out.name}: gps-to-visits writes a .gpkg file.")
    if not Path(args.source).exists():
        raise FileNotFoundError(
            f"No {args.source!r}: give a GeoLife Data folder or a CSV / GeoParquet of fixes."
        )
    visits, locations, staypoints = gps_to_visits(
        args.source,
        dist_threshold=args.dist,
        time_threshold=args.time,
        gap_threshold=args.gap,
        include_last=not args.drop_last,
        activity_threshold=args.activity,
        eps=args.eps,
        min_samples=args.min_samples,
        haversine_order=args.haversine_order,
        min_tracked_days=args.min_tracked_days,
        merge_gap=args.merge_gap,
        return_staypoints=True,
        user_col=args.user_col,
        time_col=args.time_col,
        tz=args.tz,
        users=args.users,
        progress=not args.quiet,
    )
    write_gps_layers(out, visits, staypoints, locations)
    report = visits.attrs.get("gps_report", {})
    print(json.dumps(report, indent=2))
    print(
        f"{len(visits)} visits at {len(locations)} locations from {len(staypoints)} staypoints "
        f"of {report.get('users', '?')} users ({_source_label(args.source)}): {out} "
        "(layers visits, staypoints, locations)"
    )
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    """``geocalliper split VISITS --out FILE``."""
    import geopandas as gpd

    from ..exceptions import MissingColumnError
    from ..io.poi import read_pois
    from ..io.vector import write_vector
    from ..mobility.split import split_by_day

    path = Path(args.visits)
    if not path.exists():
        raise FileNotFoundError(f"No visits file at {str(path)!r}.")
    if path.suffix.lower() == ".gpkg":
        import pyogrio

        layers = [name for name, _ in pyogrio.list_layers(path)]
        layer = args.layer or ("visits" if "visits" in layers else layers[0])
        if layer not in layers:
            raise MissingColumnError(f"{path.name} has no layer {layer!r} (layers: {layers}).")
        visits = gpd.read_file(path, layer=layer)
    else:
        visits = read_pois(path)
    visits[args.split_col] = split_by_day(
        visits, user_col=args.user_col, start_col=args.start_col, fractions=args.fractions
    )
    write_vector(visits, args.out)
    counts = visits[args.split_col].value_counts().reindex(["train", "valid", "test"]).fillna(0)
    print(
        f"Split {len(visits)} visits of {visits[args.user_col].nunique()} users by day: "
        + ", ".join(f"{k} {int(v)}" for k, v in counts.items())
        + f"; written to {args.out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gps-to-visits`` and ``split`` to the ``geocalliper`` command's subparsers."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        cmd = subparsers.add_parser(
            name,
            help=summary,
            epilog=GPS_EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.set_defaults(func=func, command_parser=cmd)
        return cmd

    gps = command(
        "gps-to-visits",
        "raw GPS (GeoLife PLT folder, CSV, GeoParquet) -> visits, staypoints, locations",
        cmd_gps_to_visits,
    )
    gps.add_argument("source", help="GeoLife Data folder, or a CSV / GeoParquet of fixes")
    gps.add_argument("--out", required=True, help=".gpkg to write (three layers)")
    gps.add_argument("--dist", type=float, default=200.0, help="staypoint radius, m (200)")
    gps.add_argument("--time", type=float, default=30.0, help="staypoint minimum, min (30)")
    gps.add_argument("--gap", type=float, default=1440.0, help="data gap, minutes (1440)")
    gps.add_argument(
        "--drop-last",
        action="store_true",
        help="drop the stretch at the end of each track (trackintel's default; MHSA keeps it)",
    )
    gps.add_argument("--activity", type=float, default=25.0, help="activity: > minutes (25)")
    gps.add_argument("--eps", type=float, default=20.0, help="DBSCAN radius, m (20)")
    gps.add_argument("--min-samples", type=int, default=2, help="DBSCAN min samples (2)")
    gps.add_argument(
        "--haversine-order",
        choices=["lat_lon", "trackintel"],
        default="lat_lon",
        help="DBSCAN coordinates: right (lat_lon) or as trackintel passes them",
    )
    gps.add_argument(
        "--min-tracked-days",
        type=float,
        default=None,
        help="keep users tracked more than this many days (MHSA: 50)",
    )
    gps.add_argument(
        "--merge-gap",
        type=float,
        default=None,
        help="merge visits at one place at most this many minutes apart (MHSA: 1)",
    )
    gps.add_argument(
        "--tz", default=None, help="time zone of the output (default UTC, GeoLife's GMT)"
    )
    gps.add_argument("--users", nargs="+", default=None, help="only these users")
    gps.add_argument("--user-col", default="user_id", help="user column of a fixes file")
    gps.add_argument("--time-col", default="tracked_at", help="time column of a fixes file")

    split = command("split", "visits file -> the same with a per-user split by day", cmd_split)
    split.add_argument("visits", help="visits file (a gps-to-visits .gpkg, CSV, GeoParquet …)")
    split.add_argument("--out", required=True, help=".gpkg, .parquet or .csv to write")
    split.add_argument("--layer", default=None, help="GeoPackage layer (default: visits)")
    split.add_argument(
        "--fractions",
        type=float,
        nargs=3,
        default=(0.6, 0.2, 0.2),
        metavar=("TRAIN", "VALID", "TEST"),
        help="shares of each user's days (default 0.6 0.2 0.2)",
    )
    split.add_argument("--user-col", default="user_id")
    split.add_argument("--start-col", default="started_at")
    split.add_argument("--split-col", default="split")


__all__ = ["cmd_gps_to_visits", "cmd_split", "register"]
