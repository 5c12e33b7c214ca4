"""gnostic's OpenAPI v2 messages, the subset a Kubernetes document uses.

kubectl decodes `/openapi/v2` as gnostic's `openapi.v2.Document` (google/gnostic,
openapiv2/OpenAPIv2.proto, Apache-2.0). We describe the messages here as a small
table of (field, number, type) and build their descriptor with `protobuf`'s own
`descriptor_pb2`, instead of committing protoc output: protoc is not on the
machine (grpcio-tools would be a dev dependency only for this), and a table is
easier to read and review than generated code. Only the wire matters to the
reader, so the table lists only the messages and fields we emit; names and
numbers are gnostic's, and tests/unit/test_kube_gnostic.py checks them against
the descriptor compiled into the kubectl binary when one is installed.

Left out on purpose: `Any.value` (a google.protobuf.Any that Kubernetes never
sets; extensions travel as YAML text in `Any.yaml`), security, tags, headers,
examples, global parameters and responses, and the validation keywords
(minimum, pattern, enum...), which Kubernetes documents do not use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message

PACKAGE = "openapi.v2"
FILE_NAME = "openapiv2/OpenAPIv2.proto"

_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
}

# message -> ((field, number, type), ...); a type starting with "*" is repeated.
MESSAGES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "Any": (("yaml", 2, "string"),),
    "NamedAny": (("name", 1, "string"), ("value", 2, "Any")),
    "Document": (
        ("swagger", 1, "string"),
        ("info", 2, "Info"),
        ("paths", 8, "Paths"),
        ("definitions", 9, "Definitions"),
    ),
    "Info": (("title", 1, "string"), ("version", 2, "string")),
    "Paths": (("path", 2, "*NamedPathItem"),),
    "NamedPathItem": (("name", 1, "string"), ("value", 2, "PathItem")),
    "PathItem": (
        ("get", 2, "Operation"),
        ("put", 3, "Operation"),
        ("post", 4, "Operation"),
        ("delete", 5, "Operation"),
        ("patch", 8, "Operation"),
        ("parameters", 9, "*ParametersItem"),
    ),
    "Operation": (
        ("tags", 1, "*string"),
        ("description", 3, "string"),
        ("operation_id", 5, "string"),
        ("produces", 6, "*string"),
        ("consumes", 7, "*string"),
        ("parameters", 8, "*ParametersItem"),
        ("responses", 9, "Responses"),
        ("vendor_extension", 13, "*NamedAny"),
    ),
    "ParametersItem": (("parameter", 1, "Parameter"),),
    "Parameter": (
        ("body_parameter", 1, "BodyParameter"),
        ("non_body_parameter", 2, "NonBodyParameter"),
    ),
    "BodyParameter": (
        ("description", 1, "string"),
        ("name", 2, "string"),
        ("in", 3, "string"),
        ("required", 4, "bool"),
        ("schema", 5, "Schema"),
    ),
    "NonBodyParameter": (
        ("query_parameter_sub_schema", 3, "QueryParameterSubSchema"),
        ("path_parameter_sub_schema", 4, "PathParameterSubSchema"),
    ),
    "QueryParameterSubSchema": (
        ("required", 1, "bool"),
        ("in", 2, "string"),
        ("description", 3, "string"),
        ("name", 4, "string"),
        ("type", 6, "string"),
    ),
    "PathParameterSubSchema": (
        ("required", 1, "bool"),
        ("in", 2, "string"),
        ("description", 3, "string"),
        ("name", 4, "string"),
        ("type", 5, "string"),
    ),
    "Responses": (("response_code", 1, "*NamedResponseValue"),),
    "NamedResponseValue": (("name", 1, "string"), ("value", 2, "ResponseValue")),
    "ResponseValue": (("response", 1, "Response"),),
    "Response": (("description", 1, "string"), ("schema", 2, "SchemaItem")),
    "SchemaItem": (("schema", 1, "Schema"),),
    "Schema": (
        ("_ref", 1, "string"),
        ("format", 2, "string"),
        ("description", 4, "string"),
        ("required", 19, "*string"),
        ("additional_properties", 21, "AdditionalPropertiesItem"),
        ("type", 22, "TypeItem"),
        ("items", 23, "ItemsItem"),
        ("properties", 25, "Properties"),
        ("vendor_extension", 31, "*NamedAny"),
    ),
    "AdditionalPropertiesItem": (("schema", 1, "Schema"), ("boolean", 2, "bool")),
    "TypeItem": (("value", 1, "*string"),),
    "ItemsItem": (("schema", 1, "*Schema"),),
    "Properties": (("additional_properties", 1, "*NamedSchema"),),
    "NamedSchema": (("name", 1, "string"), ("value", 2, "Schema")),
    "Definitions": (("additional_properties", 1, "*NamedSchema"),),
}

# In gnostic these messages are one `oneof oneof { ... }` over all their fields.
ONEOF_MESSAGES = frozenset(
    {"AdditionalPropertiesItem", "NonBodyParameter", "Parameter", "ParametersItem",
     "ResponseValue", "SchemaItem"}
)


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto of MESSAGES, as protoc would give for that subset."""
    proto = descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE, syntax="proto3")
    for message_name, fields in MESSAGES.items():
        message = proto.message_type.add(name=message_name)
        oneof = message_name in ONEOF_MESSAGES
        if oneof:
            message.oneof_decl.add(name="oneof")
        for field_name, number, type_name in fields:
            repeated = type_name.startswith("*")
            bare = type_name.lstrip("*")
            field = message.field.add(name=field_name, number=number)
            field.label = (
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            )
            if bare in _SCALARS:
                field.type = _SCALARS[bare]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = f".{PACKAGE}.{bare}"
            if oneof:
                field.oneof_index = 0
    return proto


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    # A pool of our own: nothing else in the process can clash with these names.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    return pool


def message_class(name: str) -> type[Message]:
    """The generated class of one gnostic message, e.g. "Document"."""
    descriptor = _pool().FindMessageTypeByName(f"{PACKAGE}.{name}")
    cls: type[Message] = message_factory.GetMessageClass(descriptor)
    return cls


def build(name: str, fields: dict[str, Any]) -> Message:
    """A gnostic message from a dict keyed by the proto field names above.

    json_format refuses a field the table does not have, so a converter bug
    fails loudly instead of dropping part of the document.
    """
    message: Message = json_format.ParseDict(fields, message_class(name)())
    return message
