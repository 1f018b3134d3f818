"""Built-in prompting strategies: name -> "module:attribute" of the Strategy class."""

STRATEGIES: dict[str, str] = {
    "none": "divbench.strategies.basic:NoStrategy",
}
