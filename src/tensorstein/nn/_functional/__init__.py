"""Private implementation of ``tensorstein.nn.functional`` (re-exported there)."""
