"""Review service: routes each submitted attempt to a certified reviewer and records its rubric scores."""
