"""Bulk importers: ``registry load KIND FILE``.

Kinds (each module documents its format):

- ``roster``   the registry's own CSV, one row per employment stint (loaders/roster.py)
- ``npi``      the National Police Index column layout (loaders/npi.py)
- ``fl-post``  the Florida POST employment export (loaders/fl_post.py)
- ``va-dcjs``  the Virginia DCJS decertification list workbook (loaders/va_dcjs.py)

The stint kinds share one set-based engine (loaders/stints.py); the machinery every load
shares (reading, rejects, progress, runs, audit) is in loaders/base.py and loaders/textfile.py.
"""
