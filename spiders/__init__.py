"""The project's spiders; `harvester list` finds every Spider subclass in this package."""
