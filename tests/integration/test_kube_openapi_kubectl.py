"""The real kubectl reads our OpenAPI v2 document: explain, validation, diff and
the strategic merge patch of apply all work from it.

kubectl is tests/support/kubectl.py's (OZY_TEST_KUBECTL, else PATH); run once with each version
(1.32 asks /openapi/v3 first and falls back to v2 on its 404). The server is a
stub (tests/support/kube_openapi_stub.py) serving discovery and the document.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import kube_openapi_stub
from tests.support.kube_openapi_stub import Stub
from tests.support.kubectl import kubectl_binary
from tests.support.nginx_deployment import NGINX


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[Stub]:
    with kube_openapi_stub.running() as running:
        yield running


def kubectl(stub: Stub, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(stub.kubeconfig(tmp_path)),
         "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def write(tmp_path: Path, obj: dict[str, object], name: str = "deploy.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def test_explain_prints_our_container_fields(stub: Stub, tmp_path: Path) -> None:
    done = kubectl(stub, tmp_path, "explain", "deployment.spec.template.spec.containers")
    assert done.returncode == 0, done.stderr
    assert "RESOURCE: containers <[]Object>" in done.stdout
    for field in ("name\t<string> -required-", "image\t<string>", "livenessProbe\t<Object>",
                  "securityContext\t<Object>", "env\t<[]Object>"):
        assert field in done.stdout, field


def test_apply_of_the_nginx_deployment_passes_validation(stub: Stub, tmp_path: Path) -> None:
    done = kubectl(stub, tmp_path, "apply", "-f", write(tmp_path, NGINX))
    assert done.returncode == 0, done.stderr
    assert "deployment.apps/nginx-deployment created" in done.stdout
    assert [request.path.split("?")[0] for request in stub.sent("POST")] == [
        "/apis/apps/v1/namespaces/default/deployments"
    ]


def test_an_unknown_field_is_refused_by_kubectl_or_left_to_strict_server_validation(
    stub: Stub, tmp_path: Path
) -> None:
    bad = json.loads(json.dumps(NGINX))
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["bogusField"] = 1
    done = kubectl(stub, tmp_path, "apply", "-f", write(tmp_path, bad))
    posts = stub.sent("POST")
    if posts:
        # kubectl found fieldValidation on our PATCH operation: the server validates.
        assert "fieldValidation=Strict" in posts[0].path
    else:
        assert done.returncode != 0
        assert 'unknown field "bogusField"' in done.stderr


def test_apply_of_a_change_sends_a_strategic_merge_patch_keyed_by_our_merge_keys(
    stub: Stub, tmp_path: Path
) -> None:
    assert kubectl(stub, tmp_path, "apply", "-f", write(tmp_path, NGINX)).returncode == 0
    changed = json.loads(json.dumps(NGINX))
    nginx = changed["spec"]["template"]["spec"]["containers"][0]
    nginx["image"] = "nginx:1.16.1"
    nginx["env"] = [{"name": "A", "value": "1"}]
    done = kubectl(stub, tmp_path, "apply", "-f", write(tmp_path, changed))
    assert done.returncode == 0, done.stderr
    assert "error calculating patch from openapi spec" not in done.stderr
    (patch,) = stub.sent("PATCH")
    assert patch.content_type == "application/strategic-merge-patch+json"
    template = json.loads(patch.body)["spec"]["template"]["spec"]
    assert template["$setElementOrder/containers"] == [{"name": "nginx"}, {"name": "sidecar"}]
    (container,) = template["containers"]
    assert container["name"] == "nginx"
    assert container["image"] == "nginx:1.16.1"
    assert container["env"] == [{"$patch": "delete", "name": "B"}]


def test_diff_of_a_new_deployment_is_a_dry_run_create(stub: Stub, tmp_path: Path) -> None:
    done = kubectl(stub, tmp_path, "diff", "-f", write(tmp_path, NGINX))
    assert done.returncode == 1, done.stderr
    assert "+kind: Deployment" in done.stdout
    (post,) = stub.sent("POST")
    assert "dryRun=All" in post.path
    assert stub.deployments == {}


def test_diff_of_a_changed_deployment_is_a_dry_run_strategic_merge_patch(
    stub: Stub, tmp_path: Path
) -> None:
    assert kubectl(stub, tmp_path, "apply", "-f", write(tmp_path, NGINX)).returncode == 0
    changed = json.loads(json.dumps(NGINX))
    changed["spec"]["replicas"] = 5
    done = kubectl(stub, tmp_path, "diff", "-f", write(tmp_path, changed))
    # The stub answers the stored object unchanged, so there is nothing to show.
    assert done.returncode == 0, done.stderr
    (patch,) = stub.sent("PATCH")
    assert "dryRun=All" in patch.path
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert json.loads(patch.body)["spec"]["replicas"] == 5
