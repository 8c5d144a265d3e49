"""nbsched: the scheduler that lives in your notebook.

An APScheduler-3-compatible engine (replace the import prefix ``apscheduler`` with
``nbsched``) plus a notebook layer: magics, widgets, per-job output and jobs that
survive kernel restarts.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
