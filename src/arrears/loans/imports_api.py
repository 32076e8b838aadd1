"""Import routes (upload a file, dry-run it, commit it). Filled in by the imports work."""

from fastapi import APIRouter

router = APIRouter(tags=["imports"])
