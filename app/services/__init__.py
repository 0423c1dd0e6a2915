"""Workflows across models as plain typed functions: no request, no current_user."""
