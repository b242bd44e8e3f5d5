"""The browser playground (``sigmoidlab serve``): train a network in the NumPy engine and watch it learn.

``create_app()`` returns the Starlette application; :mod:`.schema` validates requests (pydantic models) and names
the options, :mod:`.sessions` runs the training sessions, ``static/`` holds the page: ``index.html`` and ES modules
with no build step, ``app.js`` first (no CDN: everything it loads comes from this package).
"""

from .app import create_app

__all__ = ["create_app"]
