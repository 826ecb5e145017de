"""Context stage: assemble a person's call context and render it for an LLM."""
