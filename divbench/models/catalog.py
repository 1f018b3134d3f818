"""Built-in backends: name -> "module:attribute" of a factory ``(model, adapter, options) -> Backend``."""

BACKENDS: dict[str, str] = {
    "hf": "divbench.models.hf:create_hf_backend",
    "fake": "divbench.models.fake:create_fake_backend",
    "reference": "divbench.models.reference:create_reference_backend",
}
