"""Built-in prompting strategies: name -> "module:attribute" of the Strategy class."""

STRATEGIES: dict[str, str] = {
    "none": "divbench.strategies.basic:NoStrategy",
    "diverse-prompt": "divbench.strategies.basic:DiversePromptStrategy",
    "listing": "divbench.strategies.listing:ListingStrategy",
    "verbalized": "divbench.strategies.listing:VerbalizedStrategy",
    "possibility": "divbench.strategies.multi:PossibilityStrategy",
    "iterative": "divbench.strategies.multi:IterativeStrategy",
    "seed-injection": "divbench.strategies.multi:SeedInjectionStrategy",
    "diverse-beam": "divbench.strategies.beam:DiverseBeamStrategy",
}
