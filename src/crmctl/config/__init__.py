"""Configuration: YAML with positions -> JSON Schema -> semantic checks -> typed definitions."""
