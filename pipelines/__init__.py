"""Harvester's built-in item pipelines; name them in `[project].pipelines`."""
