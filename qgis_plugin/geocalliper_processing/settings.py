"""The plugin's setting: where the ``geocalliper`` executable is.

It lives in Settings ▸ Options ▸ Processing ▸ Providers ▸ geocalliper (a Processing
setting, stored in the QGIS profile as ``Processing/Configuration/GEOCALLIPER_EXECUTABLE``).
Empty means: the ``GEOCALLIPER_EXECUTABLE`` environment variable, else ``geocalliper`` on
PATH.
"""

from __future__ import annotations

#: the setting's name in ProcessingConfig (and the profile)
EXECUTABLE_SETTING = "GEOCALLIPER_EXECUTABLE"
#: the settings group: the provider's name in the options dialog
PROVIDER_NAME = "geocalliper"


def add_settings() -> None:
    """Register the setting with Processing (called when the provider loads)."""
    from processing.core.ProcessingConfig import ProcessingConfig, Setting

    ProcessingConfig.addSetting(
        Setting(
            PROVIDER_NAME,
            EXECUTABLE_SETTING,
            "geocalliper executable (empty: find it on PATH)",
            "",
            valuetype=Setting.FILE,
        )
    )
    ProcessingConfig.readSettings()


def remove_settings() -> None:
    """Unregister the setting (called when the provider unloads)."""
    from processing.core.ProcessingConfig import ProcessingConfig

    ProcessingConfig.removeSetting(EXECUTABLE_SETTING)


def executable_setting() -> str:
    """The configured executable path, or ``""``.

    Read from the profile as well, so a value written by another QGIS process (or by
    hand in the profile's ini file) counts.
    """
    from qgis.core import QgsSettings

    value = QgsSettings().value(f"Processing/Configuration/{EXECUTABLE_SETTING}", "")
    if not value:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            value = ProcessingConfig.getSetting(EXECUTABLE_SETTING) or ""
        except ImportError:  # Processing's Python plugin is not loaded
            value = ""
    return str(value or "")
