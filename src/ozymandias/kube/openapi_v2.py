"""The OpenAPI v2 document of the kube API, served at `/openapi/v2`.

kubectl reads it for apply's client-side validation, `explain`, `diff` and the
strategic merge patch of apply: as protobuf (gnostic's `openapi.v2.Document`,
see PROTOBUF_ACCEPTED), or as
JSON. Both come from one Swagger dict built from the type table
(kube/openapi_types.py) and the served paths (kube/openapi_paths.py), once per
process: the document only changes with the code.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from ozymandias import __version__
from ozymandias.kube.openapi_definitions import definitions
from ozymandias.kube.openapi_gnostic import to_protobuf
from ozymandias.kube.openapi_paths import paths

# kubectl asks for either media type; the answer must carry the second, since Go's
# mime parser (client-go checks the Content-Type) refuses the "@" of the first.
PROTOBUF_ACCEPTED = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@cache
def _document() -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": f"v{__version__}"},
        "paths": paths(),
        "definitions": definitions(),
    }


def document_json() -> dict[str, Any]:
    """The document as a Swagger 2.0 dict (a copy: callers may change it)."""
    return copy.deepcopy(_document())


@cache
def document() -> bytes:
    """The document as gnostic protobuf."""
    return to_protobuf(_document())


@cache
def document_json_bytes() -> bytes:
    """The document as JSON text, for `Accept: application/json`: served without a copy."""
    return json.dumps(_document(), separators=(",", ":")).encode()
