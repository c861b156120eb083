"""compare: provincial Internet Plus plans against the national plan."""

__version__ = "0.1.0"
