"""Built-in tasks: name -> "module:attribute" of the Task class (imported lazily)."""

TASKS: dict[str, str] = {}
