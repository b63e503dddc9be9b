"""rescore's HTTP service (FastAPI): ``create_app`` and what pack routes share."""

from rescore.api.app import create_app

__all__ = ["create_app"]
