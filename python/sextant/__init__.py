"""sextant: fast, mergeable statistical profiles for ML monitoring.

Examples
--------
>>> import sextant
>>> isinstance(sextant.__version__, str)
True
"""

from sextant import _native

__version__: str = _native.__version__

__all__ = ["__version__"]
