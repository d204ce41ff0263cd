"""sharder: split a pytest suite into balanced CI shards, run them memory-safely, merge their reports."""

from sharder.core.errors import SharderError

__version__ = "0.1.0"
__all__ = ["SharderError", "__version__"]
