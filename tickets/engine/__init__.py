"""The engine: models and validation, the pure functions, the domain errors and the settings.

It imports nothing of the rest of the package (stores, API, command line), and nothing of HTTP, files
or databases: everything else stands on it.
"""
