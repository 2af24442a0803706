"""Reader study: invited radiologists rate generated reports blind, in a small web app.

    store.py    the SQLite database (WAL): reviewers, sessions, items, per-reviewer order, ratings
    auth.py     tokens, hashes, session cookies, CSRF
    catalog.py  what can be shown: (study, run) items, their reports and images, from RUNS_DIR
    order.py    the per-reviewer randomised, balanced order over (study, model)
    app.py      the web app (Starlette + Jinja2, served by uvicorn); imported only by `review serve`
    export.py   ratings.csv, agreement (weighted kappa, Krippendorff's alpha), per-model means with intervals

The command, `pet2rep review serve | invite | list | revoke | export`, is pet2rep.cli.review.
Only app.py imports the web stack (the `[review]` extra); the rest needs the standard library and numpy.
"""
