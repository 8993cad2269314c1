"""Every line of SQL lives in this package. Identifiers from YAML are validated and quoted; values are bound."""
