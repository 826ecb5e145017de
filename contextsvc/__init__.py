"""contextsvc: raw call events in, each customer's unified call context out."""

__version__ = "0.1.0"
