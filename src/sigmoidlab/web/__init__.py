"""The browser playground (``sigmoidlab serve``): train a network in the NumPy engine and watch it learn.

``create_app()`` returns the Starlette application; :mod:`.schema` validates requests, :mod:`.sessions` runs the
training sessions, ``static/`` holds the page (no CDN: everything it loads comes from this package).
"""

from .app import create_app

__all__ = ["create_app"]
