"""The compiled half of the sextant package (built from `python/src/lib.rs`)."""

__version__: str
