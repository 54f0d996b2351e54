"""codeduel: evaluate and compare code language models, safely, fast and reproducibly."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codeduel")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
