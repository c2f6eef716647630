"""The Processing algorithms of the geocalliper provider, one per ``geocalliper`` command.

Every algorithm turns its parameters into the arguments of one ``geocalliper`` subcommand
and runs it with :func:`.runner.run_cli`: QGIS' Python never imports torch or geocalliper.
Input layers QGIS cannot hand over as a single-layer file (memory layers, delimited text,
a layer of a multi-layer file, a selection or a filtered layer) are first written to a
temporary GeoPackage. Outputs are destination parameters, so the Processing dialog loads
them into the project when it has run.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from . import runner
from .settings import executable_setting

#: formats the command reads as they are (a layer in another one is exported first)
COMPATIBLE_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "gml", "kml", "sqlite"]

#: the groups of the Processing Toolbox
MODELS, MAPS, MOBILITY = "Models", "Maps and embeddings", "Next places"


class GeocalliperAlgorithm(QgsProcessingAlgorithm):
    """What every geocalliper algorithm shares: its identity, help and how it runs the CLI.

    A subclass sets :attr:`NAME`, :attr:`TITLE`, :attr:`GROUP`, :attr:`HELP`, declares its
    parameters in ``initAlgorithm`` and builds the command in :meth:`command`.
    """

    NAME = ""
    TITLE = ""
    GROUP = ""
    HELP = ""

    def name(self) -> str:
        """The id after ``geocalliper:``, e.g. ``grid``."""
        return self.NAME

    def displayName(self) -> str:
        """The title in the Processing Toolbox."""
        return self.TITLE

    def group(self) -> str:
        """The Toolbox group."""
        return self.GROUP

    def groupId(self) -> str:
        """The group's id."""
        return self.GROUP.lower().replace(" ", "_")

    def shortHelpString(self) -> str:
        """The help beside the algorithm's dialog."""
        return self.HELP + (
            "<p>Runs the <code>geocalliper</code> command line tool (its path: "
            "Settings ▸ Options ▸ Processing ▸ Providers ▸ geocalliper).</p>"
        )

    def createInstance(self) -> GeocalliperAlgorithm:
        """A new algorithm of the same class (Processing runs each on its own copy)."""
        return type(self)()

    # ------------------------------------------------------------------ helpers
    def command(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> tuple[list[str], dict[str, Any]]:
        """The subcommand's arguments and the algorithm's results (output name → value)."""
        raise NotImplementedError

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Build the command, run it, hand back the outputs."""
        feedback = feedback or QgsProcessingFeedback()
        args, results = self.command(parameters, context, feedback)
        try:
            executable = runner.find_executable(executable_setting())
            runner.run_cli(executable, args, feedback)
        except runner.CliError as exc:
            raise QgsProcessingException(str(exc)) from exc
        return results

    def source_path(
        self,
        parameters: dict[str, Any],
        name: str,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        osm: bool = False,
    ) -> str:
        """The file of the layer in parameter ``name``, exported to a temporary GeoPackage
        unless it is a whole single-layer file the command reads.

        With ``osm``, a whole layer of an ``.osm.pbf`` file is handed over as the file
        itself: the command reads all its POIs (points and areas) with their OSM tags.
        """
        formats = [*COMPATIBLE_FORMATS, "pbf"] if osm else COMPATIBLE_FORMATS
        path, layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, name, context, formats, "gpkg", feedback
        )
        whole_osm = osm and path.lower().endswith(".pbf")
        if layer and not whole_osm and _layer_count(path) != 1:  # the command reads layer 1
            path = self.parameterAsCompatibleSourceLayerPath(
                parameters, name, context, [], "gpkg", feedback
            )
        if not path:
            raise QgsProcessingException(self.invalidSourceError(parameters, name))
        return path

    def add_model(self, description: str = "CaLLiPer model folder (from Pre-train)") -> None:
        """The ``MODEL`` folder parameter."""
        self.addParameter(
            QgsProcessingParameterFile(
                "MODEL", description, behavior=QgsProcessingParameterFile.Folder
            )
        )

    def add_area(self) -> None:
        """The ``AREA`` layer parameter."""
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "AREA",
                "Study area (polygons; points or lines give their convex hull)",
                [QgsProcessing.TypeVectorAnyGeometry],
            )
        )

    def add_grid_options(self, default_resolution: float = 50.0) -> None:
        """``RESOLUTION`` and the optional ``CRS`` of a raster output."""
        self.addParameter(
            QgsProcessingParameterNumber(
                "RESOLUTION",
                "Cell size (in the grid CRS' units, metres by default)",
                QgsProcessingParameterNumber.Double,
                default_resolution,
                minValue=0.0001,
            )
        )
        self.addParameter(
            QgsProcessingParameterCrs("CRS", "Grid CRS (default: the model's)", optional=True)
        )

    def grid_args(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        """``--resolution R [--crs AUTHID]``."""
        args = ["--resolution", repr(self.parameterAsDouble(parameters, "RESOLUTION", context))]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if parameters.get("CRS") and crs.isValid():
            args += ["--crs", crs.authid() or crs.toWkt()]
        return args

    def output_file(
        self, parameters: dict[str, Any], name: str, context: QgsProcessingContext, *suffixes: str
    ) -> str:
        """The path of destination ``name``, refused unless it ends in one of ``suffixes``."""
        path = self.parameterAsOutputLayer(parameters, name, context)
        if not path.lower().endswith(suffixes):
            raise QgsProcessingException(
                f"{self.TITLE} writes {' or '.join(suffixes)} files; choose an output file "
                f"with that extension instead of {path!r}."
            )
        return path


def _layer_count(path: str) -> int:
    """How many layers the vector file ``path`` holds (0 when GDAL cannot open it)."""
    from osgeo import ogr

    dataset = ogr.Open(path)
    return 0 if dataset is None else dataset.GetLayerCount()


def _optional_field(
    algorithm: QgsProcessingAlgorithm,
    parameters: dict[str, Any],
    name: str,
    context: QgsProcessingContext,
) -> str:
    """The field chosen in an optional field parameter, or ``""``."""
    fields = algorithm.parameterAsFields(parameters, name, context)
    return fields[0] if fields else ""


def _advanced(parameter: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    """``parameter`` shown under *Advanced Parameters* of the dialog."""
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


# ---------------------------------------------------------------------- models
class PretrainAlgorithm(GeocalliperAlgorithm):
    """``geocalliper pretrain``: a POI layer and its texts → a CaLLiPer model folder."""

    NAME = "pretrain"
    TITLE = "Pre-train a CaLLiPer model"
    GROUP = MODELS
    HELP = (
        "<p>Trains CaLLiPer on a layer of points of interest: each point's text (a field, "
        "or a template such as <code>A place of {fclass}</code>) teaches the model what is "
        "where. Writes a model folder (config.json + model.safetensors) that the other "
        "algorithms use.</p><p>A layer of an .osm.pbf file is read as the whole file: all "
        "its POIs, points and areas, described by their OSM tags (no text field needed). "
        "Otherwise, without a text field or template, a field called <code>text</code> "
        "is used.</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: POIs, text field or template, training length, output folder."""
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "Points of interest", [QgsProcessing.TypeVectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                "TEXT_FIELD",
                "Text field (what each place is)",
                parentLayerParameterName="INPUT",
                type=QgsProcessingParameterField.String,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "TEXT_TEMPLATE",
                "…or a text template with {field} names, e.g. A place of {fclass}",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "MAX_STEPS", "Optimiser steps at most", defaultValue=3000, minValue=1
            )
        )
        self.addParameter(
            _advanced(
                QgsProcessingParameterCrs(
                    "CRS", "Projected CRS in metres (default: the UTM zone)", optional=True
                )
            )
        )
        self.addParameter(
            _advanced(QgsProcessingParameterNumber("SEED", "Random seed", defaultValue=0))
        )
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Model folder"))

    def command(self, parameters, context, feedback):
        """``geocalliper pretrain POIS --out FOLDER [--text …] --max-steps N --seed S``."""
        pois = self.source_path(parameters, "INPUT", context, feedback, osm=True)
        out = self.parameterAsString(parameters, "OUTPUT", context)
        args = ["pretrain", pois, "--out", out]
        field = _optional_field(self, parameters, "TEXT_FIELD", context)
        template = self.parameterAsString(parameters, "TEXT_TEMPLATE", context).strip()
        if field and template:
            raise QgsProcessingException("Give a text field or a text template, not both.")
        if field or template:
            args += ["--text", field or template]
        args += ["--max-steps", str(self.parameterAsInt(parameters, "MAX_STEPS", context))]
        args += ["--seed", str(self.parameterAsInt(parameters, "SEED", context))]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if parameters.get("CRS") and crs.isValid():
            args += ["--crs", crs.authid() or crs.toWkt()]
        return args, {"OUTPUT": out}


# ---------------------------------------------------------------------- embeddings
class EmbedAlgorithm(GeocalliperAlgorithm):
    """``geocalliper embed``: adds ``calliper_*`` fields to a layer's features."""

    NAME = "embed"
    TITLE = "Embed a layer"
    GROUP = MAPS
    HELP = (
        "<p>Adds the model's embedding of each feature as fields <code>calliper_0</code>, "
        "<code>calliper_1</code>, … (one per dimension). Lines and polygons are embedded "
        "at a point inside (centroid) or as the mean of points sampled inside.</p>"
    )
    HOW = ("centroid", "mean")

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: model, layer, how, output GeoPackage."""
        self.add_model()
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "Layer to embed", [QgsProcessing.TypeVectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "HOW", "Lines and polygons", list(self.HOW), defaultValue=0, optional=True
            )
        )
        self.addParameter(QgsProcessingParameterVectorDestination("OUTPUT", "Embedded layer"))

    def command(self, parameters, context, feedback):
        """``geocalliper embed MODEL LAYER --out OUT.gpkg [--how …]``."""
        model = self.parameterAsFile(parameters, "MODEL", context)
        layer = self.source_path(parameters, "INPUT", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".gpkg")
        args = ["embed", model, layer, "--out", out]
        if parameters.get("HOW") is not None:
            args += ["--how", self.HOW[self.parameterAsEnum(parameters, "HOW", context)]]
        return args, {"OUTPUT": out}


class GridAlgorithm(GeocalliperAlgorithm):
    """``geocalliper grid``: the embedding of every cell of a grid, as a GeoTIFF."""

    NAME = "grid"
    TITLE = "Embedding grid (GeoTIFF)"
    GROUP = MAPS
    HELP = (
        "<p>Embeds the centre of every cell of a grid over the study area: a GeoTIFF with one "
        "band per dimension (<code>calliper_0</code> …), and an RGB preview of its first "
        "three principal components (<i>OUTPUT</i>-rgb.tif), which is what the dialog "
        "loads alongside.</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: model, area, cell size, CRS, buffer, output GeoTIFF."""
        self.add_model()
        self.add_area()
        self.add_grid_options(default_resolution=25.0)
        self.addParameter(
            _advanced(
                QgsProcessingParameterNumber(
                    "BUFFER",
                    "Metres around the convex hull of points or lines",
                    QgsProcessingParameterNumber.Double,
                    0.0,
                    minValue=0.0,
                )
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Embedding grid"))
        self.addOutput(QgsProcessingOutputRasterLayer("OUTPUT_RGB", "RGB preview"))

    def command(self, parameters, context, feedback):
        """``geocalliper grid MODEL AREA --resolution R --out OUT.tif``."""
        model = self.parameterAsFile(parameters, "MODEL", context)
        area = self.source_path(parameters, "AREA", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".tif", ".tiff")
        args = ["grid", model, area, *self.grid_args(parameters, context), "--out", out]
        buffer = self.parameterAsDouble(parameters, "BUFFER", context)
        if buffer:
            args += ["--buffer", repr(buffer)]
        rgb = out.rsplit(".", 1)[0] + "-rgb.tif"
        if context.project() is not None:  # the dialog: show the preview too
            details = QgsProcessingContext.LayerDetails("RGB preview", context.project(), "")
            context.addLayerToLoadOnCompletion(rgb, details)
        return args, {"OUTPUT": out, "OUTPUT_RGB": rgb}


class H3Algorithm(GeocalliperAlgorithm):
    """``geocalliper h3``: the embeddings of the H3 cells covering an area."""

    NAME = "h3"
    TITLE = "H3 cell embeddings"
    GROUP = MAPS
    HELP = (
        "<p>The H3 hexagons of one resolution covering the study area, each with its "
        "embedding in <code>calliper_*</code> fields: the centre's, or the mean over points "
        "sampled in the cell.</p>"
    )
    HOW = ("center", "mean")

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: model, area, H3 resolution, how, output GeoPackage."""
        self.add_model()
        self.add_area()
        self.addParameter(
            QgsProcessingParameterNumber(
                "RESOLUTION", "H3 resolution (9: about 0.1 km²)", defaultValue=9,
                minValue=0, maxValue=15,
            )
        )  # fmt: skip
        self.addParameter(
            QgsProcessingParameterEnum("HOW", "Embed each cell's", ["centre", "mean"], False, 0)
        )
        self.addParameter(
            _advanced(
                QgsProcessingParameterBoolean(
                    "POINTS", "Points: only the cells holding them", defaultValue=False
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT", "H3 cells", QgsProcessing.TypeVectorPolygon
            )
        )

    def command(self, parameters, context, feedback):
        """``geocalliper h3 MODEL AREA --res R --how HOW --out OUT.gpkg``."""
        model = self.parameterAsFile(parameters, "MODEL", context)
        area = self.source_path(parameters, "AREA", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".gpkg")
        args = [
            "h3", model, area,
            "--res", str(self.parameterAsInt(parameters, "RESOLUTION", context)),
            "--how", self.HOW[self.parameterAsEnum(parameters, "HOW", context)],
            "--out", out,
        ]  # fmt: skip
        if self.parameterAsBool(parameters, "POINTS", context):
            args.append("--points")
        return args, {"OUTPUT": out}


# ---------------------------------------------------------------------- zero-shot maps
class QueryAlgorithm(GeocalliperAlgorithm):
    """``geocalliper query``: how well each cell of an area matches a text."""

    NAME = "query"
    TITLE = "Text query map"
    GROUP = MAPS
    HELP = (
        "<p>Scores every cell of a grid over the study area by how well the model's "
        "embedding there matches a text, e.g. <code>A place of cafe</code>: a one-band "
        "GeoTIFF of similarities (higher: a better match).</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: model, area, text, cell size, CRS, output GeoTIFF."""
        self.add_model()
        self.add_area()
        self.addParameter(
            QgsProcessingParameterString("TEXT", "Text", defaultValue="A place of cafe")
        )
        self.add_grid_options()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Query map"))

    def command(self, parameters, context, feedback):
        """``geocalliper query MODEL AREA TEXT --resolution R --out OUT.tif``."""
        text = self.parameterAsString(parameters, "TEXT", context).strip()
        if not text:
            raise QgsProcessingException("Give the text to query, e.g. 'A place of cafe'.")
        model = self.parameterAsFile(parameters, "MODEL", context)
        area = self.source_path(parameters, "AREA", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".tif", ".tiff")
        args = ["query", model, area, text, *self.grid_args(parameters, context), "--out", out]
        return args, {"OUTPUT": out}


class LabelAlgorithm(GeocalliperAlgorithm):
    """``geocalliper label``: the best-matching of several labels in each cell."""

    NAME = "label"
    TITLE = "Label map"
    GROUP = MAPS
    HELP = (
        "<p>Labels every cell of a grid over the study area with the best-matching of "
        "several texts: one label a line, as <code>name=text</code>, e.g. "
        "<code>food=A place of restaurant</code>. A GeoTIFF of class codes with the "
        "names; optionally each label's probability (<i>OUTPUT</i>-probability.tif).</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: model, area, labels, cell size, CRS, probabilities, output."""
        self.add_model()
        self.add_area()
        self.addParameter(
            QgsProcessingParameterString(
                "LABELS",
                "Labels, one a line: name=text (';' also separates them)",
                defaultValue="food=A place of restaurant\nparks=A place of park",
                multiLine=True,
            )
        )
        self.add_grid_options()
        self.addParameter(
            QgsProcessingParameterBoolean(
                "PROBABILITIES", "Also write each label's probability", defaultValue=False
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Label map"))
        self.addOutput(QgsProcessingOutputRasterLayer("OUTPUT_PROBABILITY", "Probabilities"))

    def command(self, parameters, context, feedback):
        """``geocalliper label MODEL AREA --label n=t … --resolution R --out OUT.tif``."""
        labels = [
            part.strip()
            for line in self.parameterAsString(parameters, "LABELS", context).splitlines()
            for part in line.split(";")
            if part.strip()
        ]
        if len(labels) < 2:
            raise QgsProcessingException(
                "Give at least two labels, one a line as name=text, e.g. "
                "'food=A place of restaurant'."
            )
        model = self.parameterAsFile(parameters, "MODEL", context)
        area = self.source_path(parameters, "AREA", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".tif", ".tiff")
        args = ["label", model, area, *self.grid_args(parameters, context), "--out", out]
        for label in labels:
            args += ["--label", label]
        results: dict[str, Any] = {"OUTPUT": out, "OUTPUT_PROBABILITY": None}
        if self.parameterAsBool(parameters, "PROBABILITIES", context):
            args.append("--probabilities")
            probability = out.rsplit(".", 1)[0] + "-probability.tif"
            results["OUTPUT_PROBABILITY"] = probability
            if context.project() is not None:
                details = QgsProcessingContext.LayerDetails("Probabilities", context.project())
                context.addLayerToLoadOnCompletion(probability, details)
        return args, results


# ---------------------------------------------------------------------- next places
def _add_visit_fields(algorithm: GeocalliperAlgorithm, parent: str) -> None:
    """Optional user / start time / location id fields of the visits layer ``parent``."""
    for name, what in (
        ("USER_FIELD", "User id field (default: user_id)"),
        ("START_FIELD", "Start time field (default: started_at)"),
        ("LOCATION_FIELD", "Location id field (default: location_id)"),
    ):
        algorithm.addParameter(
            _advanced(
                QgsProcessingParameterField(
                    name, what, parentLayerParameterName=parent, optional=True
                )
            )
        )


def _visit_field_args(
    algorithm: GeocalliperAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext
) -> list[str]:
    """``--user-col``, ``--start-col``, ``--location-col`` where a field was chosen."""
    args: list[str] = []
    for name, flag in (
        ("USER_FIELD", "--user-col"),
        ("START_FIELD", "--start-col"),
        ("LOCATION_FIELD", "--location-col"),
    ):
        field = _optional_field(algorithm, parameters, name, context)
        if field:
            args += [flag, field]
    return args


class FitPredictorAlgorithm(GeocalliperAlgorithm):
    """``geocalliper fit-predictor``: visits → a next-place predictor folder."""

    NAME = "fitpredictor"
    TITLE = "Train a next-place predictor"
    GROUP = MOBILITY
    HELP = (
        "<p>Trains a next-location model on a layer of visits: one point per visit with a "
        "user id, a start time and a location id (and optionally a <code>split</code> field "
        "of train/valid/test). With a CaLLiPer model folder it also uses the places' "
        "embeddings. Writes a predictor folder for <i>Predict next places</i>.</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: visits, optional CaLLiPer model, epochs, fields, output folder."""
        self.addParameter(
            QgsProcessingParameterFeatureSource("INPUT", "Visits", [QgsProcessing.TypeVectorPoint])
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "CALLIPER",
                "CaLLiPer model folder (optional)",
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "MAX_EPOCHS", "Epochs at most", defaultValue=25, minValue=1
            )
        )
        _add_visit_fields(self, "INPUT")
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Predictor folder"))

    def command(self, parameters, context, feedback):
        """``geocalliper fit-predictor VISITS --out FOLDER [--calliper MODEL] …``."""
        visits = self.source_path(parameters, "INPUT", context, feedback)
        out = self.parameterAsString(parameters, "OUTPUT", context)
        args = ["fit-predictor", visits, "--out", out]
        calliper = self.parameterAsFile(parameters, "CALLIPER", context)
        if calliper:
            args += ["--calliper", calliper]
        args += ["--max-epochs", str(self.parameterAsInt(parameters, "MAX_EPOCHS", context))]
        return args + _visit_field_args(self, parameters, context), {"OUTPUT": out}


class PredictAlgorithm(GeocalliperAlgorithm):
    """``geocalliper predict``: each user's top-k next places."""

    NAME = "predict"
    TITLE = "Predict next places"
    GROUP = MOBILITY
    HELP = (
        "<p>Ranks the places each user is likely to visit next, from their recent visits: "
        "the top <i>k</i> places per user with their rank and score, as points.</p>"
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """Parameters: predictor, recent visits, k, candidates, fields, output."""
        self.add_model("Predictor folder (from Train a next-place predictor)")
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "Recent visits", [QgsProcessing.TypeVectorPoint]
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber("K", "Places per user", defaultValue=10, minValue=1)
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "CANDIDATES",
                "Candidate places (default: the places it was trained on)",
                [QgsProcessing.TypeVectorPoint],
                optional=True,
            )
        )
        _add_visit_fields(self, "INPUT")
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT", "Next places", QgsProcessing.TypeVectorPoint
            )
        )

    def command(self, parameters, context, feedback):
        """``geocalliper predict MODEL VISITS --k K --out OUT.gpkg [--candidates …]``."""
        model = self.parameterAsFile(parameters, "MODEL", context)
        visits = self.source_path(parameters, "INPUT", context, feedback)
        out = self.output_file(parameters, "OUTPUT", context, ".gpkg")
        args = ["predict", model, visits, "--k", str(self.parameterAsInt(parameters, "K", context))]
        if parameters.get("CANDIDATES"):
            args += ["--candidates", self.source_path(parameters, "CANDIDATES", context, feedback)]
        args += [*_visit_field_args(self, parameters, context), "--out", out]
        return args, {"OUTPUT": out}


#: every algorithm of the provider, in Toolbox order
ALGORITHMS: tuple[type[GeocalliperAlgorithm], ...] = (
    PretrainAlgorithm,
    EmbedAlgorithm,
    GridAlgorithm,
    H3Algorithm,
    QueryAlgorithm,
    LabelAlgorithm,
    FitPredictorAlgorithm,
    PredictAlgorithm,
)
