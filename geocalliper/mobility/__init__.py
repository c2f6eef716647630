"""Next-location prediction from visits GeoDataFrames (MHSA with CaLLiPer features).

- :mod:`~.visits`: visits frames, checked and normalised;
- :mod:`~.readers`: FSQ-NYC check-ins, GeoLife staypoints and raw GeoLife PLT files;
- :mod:`~.staypoints`: raw GPS -> staypoints -> locations -> visits (trackintel's rules);
- :mod:`~.gpsio`: files of GPS fixes in, visits / staypoints / locations GeoPackage out;
- :mod:`~.split`: the per-user chronological split and inductive location masking;
- :mod:`~.sequences`: visits as model input (chunks scored in one causal pass);
- :mod:`~.module`: the MHSA transformer with closed and inductive heads (pure torch);
- :mod:`~.training`: the training loop;
- :mod:`~.metrics`: Acc@k, MRR, NDCG@10, weighted F1;
- :mod:`~.simulate`: simulated agents among real places (exploration and preferential return);
- :mod:`~.baselines`: rules to beat (window frequency, distance, Markov, popularity);
- :mod:`~.predictor`: the :class:`NextLocationPredictor` estimator.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name -> defining module, imported on first use (PEP 562): the GPS pipeline
#: (readers, staypoints, gpsio) runs without loading torch, which the predictor needs.
_LAZY = {
    "BASELINES": ".baselines",
    "DistanceBaseline": ".baselines",
    "MarkovBaseline": ".baselines",
    "PopularityBaseline": ".baselines",
    "WindowFrequencyBaseline": ".baselines",
    "read_fixes": ".gpsio",
    "write_gps_layers": ".gpsio",
    "next_location_scores": ".metrics",
    "NextLocationPredictor": ".predictor",
    "iter_geolife_plt": ".readers",
    "read_fsq_nyc": ".readers",
    "read_geolife_plt": ".readers",
    "read_geolife_staypoints": ".readers",
    "mask_locations": ".split",
    "split_by_day": ".split",
    "generate_locations": ".staypoints",
    "generate_staypoints": ".staypoints",
    "gps_to_visits": ".staypoints",
    "merge_staypoints": ".staypoints",
    "prepare_visits": ".visits",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'geocalliper.mobility' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .baselines import (
        BASELINES,
        DistanceBaseline,
        MarkovBaseline,
        PopularityBaseline,
        WindowFrequencyBaseline,
    )
    from .gpsio import read_fixes, write_gps_layers
    from .metrics import next_location_scores
    from .predictor import NextLocationPredictor
    from .readers import iter_geolife_plt, read_fsq_nyc, read_geolife_plt, read_geolife_staypoints
    from .split import mask_locations, split_by_day
    from .staypoints import (
        generate_locations,
        generate_staypoints,
        gps_to_visits,
        merge_staypoints,
    )
    from .visits import prepare_visits

__all__ = [
    "BASELINES",
    "DistanceBaseline",
    "MarkovBaseline",
    "NextLocationPredictor",
    "PopularityBaseline",
    "WindowFrequencyBaseline",
    "generate_locations",
    "generate_staypoints",
    "gps_to_visits",
    "iter_geolife_plt",
    "mask_locations",
    "merge_staypoints",
    "next_location_scores",
    "prepare_visits",
    "read_fixes",
    "read_fsq_nyc",
    "read_geolife_plt",
    "read_geolife_staypoints",
    "split_by_day",
    "write_gps_layers",
]
