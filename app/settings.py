"""The one door through which services read the running app's configuration.

Services never import Flask: what they need of the deployment (the secret that signs QR codes, the
upload folder, the address printed in QR codes, password-hashing cost) they read here by name.
"""

from __future__ import annotations

from flask import current_app, has_request_context, request


def setting(name: str, default: object = None) -> object:
    """The configuration value ``name`` of the running app (``default`` when unset)."""
    return current_app.config.get(name, default)


def public_base_url() -> str:
    """The address printed in QR codes: ``PUBLIC_BASE_URL`` when configured, else the host this
    request came to (a development server), else the local default."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base and has_request_context():
        base = request.host_url
    return str(base or "http://127.0.0.1:5000/").rstrip("/")
