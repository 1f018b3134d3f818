"""Built-in metrics: name -> "module:attribute" of a Metric instance (imported lazily).

This module imports nothing, so listing metrics never loads numpy, torch or sentence-transformers.
"""

#: attributes with demographic-skew metrics (data: add one here and it gets all four statistics)
SKEW_ATTRIBUTES: tuple[str, ...] = ("gender", "age_bin", "country", "education", "occupation_sector")
#: statistics computed per attribute: ``skew_<stat>_<attribute>``
SKEW_STATS: tuple[str, ...] = ("tv", "kl", "entropy", "top_share")

_LEXICAL = {
    "self_bleu": "divbench.metrics.selfbleu:SELF_BLEU",
    "distinct_1": "divbench.metrics.distinct:DISTINCT_1",
    "distinct_2": "divbench.metrics.distinct:DISTINCT_2",
    "distinct_3": "divbench.metrics.distinct:DISTINCT_3",
    "corpus_distinct_1": "divbench.metrics.distinct:CORPUS_DISTINCT_1",
    "corpus_distinct_2": "divbench.metrics.distinct:CORPUS_DISTINCT_2",
    "poexft_distinct_1": "divbench.metrics.distinct:POEXFT_DISTINCT_1",
    "poexft_distinct_2": "divbench.metrics.distinct:POEXFT_DISTINCT_2",
}

_EMBEDDING = {
    "embedding_similarity": "divbench.metrics.embedding:EMBEDDING_SIMILARITY",
    "semantic_diversity": "divbench.metrics.embedding:SEMANTIC_DIVERSITY",
}

_DISTRIBUTION = {
    name: f"divbench.metrics.distribution:{name.upper()}"
    for name in ("entropy_bits", "normalized_entropy", "kl_to_target", "js_divergence", "tv_distance",
                 "coverage", "unique_count", "invalid_rate", "chi2_pvalue", "entropy_mm", "kl_to_population")
}

_SKEW = {
    f"skew_{stat}_{attr}": f"divbench.metrics.skew:skew_{stat}_{attr}"
    for attr in SKEW_ATTRIBUTES for stat in SKEW_STATS
}

METRICS: dict[str, str] = {**_LEXICAL, **_EMBEDDING, **_DISTRIBUTION, **_SKEW}
