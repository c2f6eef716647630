"""The package version, in a leaf module so that writers of model files can stamp it."""

__version__ = "0.1.0"
