"""The harvest database: tables, migrations, and the writers the engine and pipelines use."""
