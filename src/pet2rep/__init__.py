"""pet2rep: the PET2Rep benchmark as a tool — PET/CT studies in, VLM reports out, scored.

Pipeline (one module per stage): ingest -> render -> prompts -> backends (generate) -> metrics (score)
-> publish. Importing this package is cheap: heavy dependencies are imported where they are used.
"""

__version__ = "0.1.0"
