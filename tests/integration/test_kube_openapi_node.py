"""A node's kube API serves our OpenAPI v2 document, and the real kubectl uses it.

kubectl is tests/support/kubectl.py's; run once with each version. The node
serves TLS: kubectl sends a kubeconfig's token over https only.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ozymandias.kube.openapi_v2 import document_json
from tests.support.kubectl import kubectl_for
from tests.support.nginx_deployment import NGINX
from tests.support.nodes import NodeFactory
from tests.support.tls import TestPki


def test_kubectl_explains_and_validates_from_the_nodes_document(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    pki = TestPki(tmp_path / "pki")
    node = make_node(
        "kube-openapi",
        extra_args=pki.node_flags(pki.certificate("kube-openapi"), require_clients=False),
        https=pki.context(),
    )
    kubectl = kubectl_for(node, tmp_path, ozy_options=("--ca", str(pki.ca)))

    explained = kubectl("explain", "deployment.spec.template.spec.containers").stdout
    assert "RESOURCE: containers <[]Object>" in explained
    for field in ("name\t<string> -required-", "image\t<string>", "ports\t<[]Object>",
                  "readinessProbe\t<Object>", "volumeMounts\t<[]Object>"):
        assert field in explained, field
    volumes = kubectl("explain", "deployment.spec.template.spec.volumes").stdout
    assert "emptyDir\t<Object>" in volumes
    assert "hostPath\t<Object>" in volumes

    served = json.loads(kubectl("get", "--raw", "/openapi/v2").stdout)
    assert served == document_json()

    manifest = tmp_path / "nginx.yaml"
    manifest.write_text(yaml.safe_dump(NGINX))
    checked = kubectl("apply", "--dry-run=client", "-f", str(manifest))
    assert "deployment.apps/nginx-deployment created (dry run)" in checked.stdout
