"""Award service: turns passed scores into issued Open Badges 3.0 credentials."""
