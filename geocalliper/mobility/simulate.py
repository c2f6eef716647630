"""Simulated visits among real places: the exploration and preferential return model.

For demos and smoke tests only; every frame it returns is marked ``simulated = True``.
The model is that of Song, Koren, Wang and Barabási (2010), "Modelling the scaling
properties of human mobility", on a set of real places (e.g. a city's POIs):

- an agent starts at a random place (its home) on day 0 at 08:00;
- after each stay it **explores** with probability ``rho * S ** -gamma`` (``S`` the
  number of distinct places it has visited): it jumps a distance ``r`` drawn from
  ``P(r) ~ (r + r0) ** -(1 + alpha)`` (truncated at ``r_max``) in a uniform direction
  and goes to the unvisited place nearest that point; otherwise it **returns** to a
  visited place (other than the current one) chosen in proportion to its past visits;
- stays last a log-normal time (median ``stay_median`` minutes), trips 15 minutes;
  nights (from 22:00) are spent at home until 07:00-09:00.

Defaults: ``rho = 0.6``, ``gamma = 0.21``, ``alpha = 0.55`` (the paper's fits), ``r0``
100 m, ``r_max`` 10 km.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .._constants import DURATION_COLUMN, LOCATION_COLUMN, START_COLUMN, USER_COLUMN
from ..exceptions import EmptyDataError
from ..spatial.coords import as_geoseries, estimate_metric_crs


def _jump(rng: np.random.Generator, alpha: float, r0: float, r_max: float) -> float:
    """A distance from ``P(r) ~ (r + r0)^-(1+alpha)`` on ``[0, r_max]`` (inverse CDF)."""
    u = rng.random()
    lo, hi = r0**-alpha, (r_max + r0) ** -alpha
    return float((lo - u * (lo - hi)) ** (-1 / alpha) - r0)


def simulate_epr(
    places: gpd.GeoDataFrame,
    n_agents: int = 30,
    days: int = 60,
    *,
    rho: float = 0.6,
    gamma: float = 0.21,
    alpha: float = 0.55,
    r0: float = 100.0,
    r_max: float = 10_000.0,
    stay_median: float = 90.0,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Simulate ``n_agents`` agents moving among ``places`` for ``days`` days.

    Returns
    -------
    geopandas.GeoDataFrame
        Visits: ``user_id``, ``started_at``, ``duration`` (minutes), ``location_id``
        (the place's position in ``places``), ``simulated`` (always ``True``) and the
        place's point, in ``places``' CRS.

    Examples
    --------
    >>> import geocalliper as gc
    >>> pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
    >>> visits = simulate_epr(pois, n_agents=2, days=3, seed=1)
    >>> bool(visits["simulated"].all()), visits["user_id"].nunique()
    (True, 2)
    """
    geoms = as_geoseries(places, name="places", unique_index=False)
    if len(geoms) < 2:
        raise EmptyDataError("Need at least two places to move between.")
    crs = estimate_metric_crs(geoms)
    pts = geoms.to_crs(crs).representative_point()
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    from scipy.spatial import cKDTree

    tree = cKDTree(xy)
    rng = np.random.default_rng(seed)
    rows = []
    day0 = pd.Timestamp("2024-01-01")  # a Monday; the calendar is simulated
    for agent in range(n_agents):
        home = int(rng.integers(len(xy)))
        counts = {home: 1}
        here, t = home, 8 * 60.0  # minutes since day 0, 00:00
        while t < days * 1440:
            minute_of_day = t % 1440
            if minute_of_day >= 22 * 60 or minute_of_day < 7 * 60:  # night at home
                next_morning = (t // 1440 + (minute_of_day >= 22 * 60)) * 1440 + 7 * 60
                wake = next_morning + rng.uniform(0, 120)
                rows.append((agent, t, wake - t, home))
                here, t = home, wake
                counts[home] += 1
                continue
            stay = float(rng.lognormal(np.log(stay_median), 0.8))
            rows.append((agent, t, stay, here))
            t += stay + 15.0
            if rng.random() < rho * len(counts) ** -gamma:  # explore
                r = _jump(rng, alpha, r0, r_max)
                angle = rng.uniform(0, 2 * np.pi)
                target = xy[here] + r * np.array([np.cos(angle), np.sin(angle)])
                _, near = tree.query(target, k=min(8, len(xy)))
                fresh = [int(i) for i in np.atleast_1d(near) if int(i) not in counts]
                here = fresh[0] if fresh else int(np.atleast_1d(near)[0])
            elif len(counts) > 1:  # preferential return, to another visited place
                ids = np.fromiter((i for i in counts if i != here), dtype=np.int64)
                weights = np.array([counts[i] for i in ids], dtype=np.float64)
                here = int(rng.choice(ids, p=weights / weights.sum()))
            counts[here] = counts.get(here, 0) + 1
    sim = pd.DataFrame(rows, columns=["agent", "t", "duration", "place"])
    out = pd.DataFrame(
        {
            USER_COLUMN: sim["agent"].to_numpy(),
            START_COLUMN: day0 + pd.to_timedelta(sim["t"].round(), unit="min"),
            DURATION_COLUMN: sim["duration"].round(1).to_numpy(),
            LOCATION_COLUMN: sim["place"].to_numpy(),
            "simulated": True,
        }
    )
    return gpd.GeoDataFrame(
        out, geometry=geoms.iloc[sim["place"].to_numpy()].to_numpy(), crs=geoms.crs
    )
