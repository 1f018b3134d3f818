"""Built-in metrics: name -> "module:attribute" of a Metric instance (imported lazily)."""

METRICS: dict[str, str] = {}
