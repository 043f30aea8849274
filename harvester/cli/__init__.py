"""The `harvester` command line."""
