"""The Kubernetes API's writes (K4b's part of #19): a placeholder router until it lands."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
