"""The support-ticket service, one room per job, imports pointing only down:

- engine/: models and validation, the pure functions, the domain errors, the settings; imports nothing else here;
- stores/: the seam (TicketStore), how a store is chosen, and one sub-package per store (json_file, postgres);
- api/: the FastAPI app factory, one router per resource, the HTTP rules, the OpenAPI schema;
- cli/: the command line (python script.py).

main.py (for uvicorn) and script.py (the engine's public face and the command line) are the entry points.
See docs/architecture.md.
"""
