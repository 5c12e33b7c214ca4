"""`ozy kubeconfig`: a kubeconfig for kubectl, reaching any node's Kubernetes API with a token.

The server is the node the CLI talks to (`--api`), on the Kubernetes port,
always https (kubectl sends a token over TLS only): with the cluster's CA
(`--ca`) when the API is https, the node's certificate serving both. A node
without one serves it on 127.0.0.1 with a self-signed certificate of its
own (kube_api/server.py), which this trusts as that port shows it: over
loopback, on this machine. The user is the CLI's own token (--token,
OZY_TOKEN, or ~/.config/ozymandias/token), and its client certificate if it
has one.
"""

from __future__ import annotations

import base64
import json
import ssl
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import ApiOption, OutputOption, credentials, fail
from ozymandias.client_config import find_token

NAME = "ozymandias"
DEFAULT_KUBE_PORT = 6443


def kube_server_url(api: str, kube_port: int) -> str:
    """Where the node behind `api` serves the Kubernetes API."""
    parts = urlsplit(api)
    if parts.scheme == "https":
        host = parts.hostname or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{kube_port}"
    return f"https://127.0.0.1:{kube_port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def shown_certificate(server: str) -> str:
    """The certificate a loopback server shows, PEM, base64 (a kubeconfig's CA data)."""
    parts = urlsplit(server)
    address = (parts.hostname or "127.0.0.1", parts.port or 443)
    try:
        pem = ssl.get_server_certificate(address, timeout=10)
    except (OSError, ssl.SSLError) as error:
        raise fail(
            f"the Kubernetes API at {server} did not answer ({error}): is the node running, "
            "with this --kube-port?"
        ) from None
    return base64.b64encode(pem.encode()).decode()


def _pem_data(path: Path, flag: str) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode()
    except OSError as error:
        raise fail(f"cannot read {flag} {path}: {error.strerror}", code=2) from None


def kubeconfig(
    server: str,
    token: str,
    ca_data: str | None = None,
    client_cert_data: str | None = None,
    client_key_data: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig (v1 Config) of one cluster, user and context, all named `ozymandias`."""
    cluster: dict[str, Any] = {"server": server}
    if ca_data is not None:
        cluster["certificate-authority-data"] = ca_data
    user: dict[str, Any] = {"token": token}
    if client_cert_data is not None and client_key_data is not None:
        user["client-certificate-data"] = client_cert_data
        user["client-key-data"] = client_key_data
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [
            {"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}
        ],
        "current-context": NAME,
        "preferences": {},
    }


def kubeconfig_command(
    api: ApiOption = DEFAULT_API,
    server: Annotated[
        str | None,
        typer.Option(
            help="The Kubernetes API's URL (default: --api's node on --kube-port, over https: "
            "with the CA of --ca when --api is https, else on 127.0.0.1 with the certificate "
            "that port shows).",
            show_default=False,
        ),
    ] = None,
    kube_port: Annotated[
        int, typer.Option(min=1, max=65535, help="The node's --kube-port.")
    ] = DEFAULT_KUBE_PORT,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="The token kubectl sends (default: the CLI's own, as every command's).",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = "yaml",
) -> None:
    """Print a kubeconfig for kubectl: this cluster's Kubernetes API, with a token.

    Save it and point kubectl at it: `kubectl get pods`, `kubectl apply -f` and the
    rest of docs/kubernetes.md then work against any node.

    Example: ozy kubeconfig > ~/.kube/config && kubectl get nodes
    """
    if output not in ("yaml", "json"):
        raise fail(f"--output must be yaml or json, not {output!r}", code=2)
    secret = find_token(token or credentials.token)
    if secret is None:
        raise fail(
            "no token to put in the kubeconfig: pass --token, set OZY_TOKEN, or run "
            "`ozy up` (which saves one); `ozy token create` makes one per person",
            code=2,
        )
    url = server or kube_server_url(api, kube_port)
    https = url.startswith("https://")
    ca = _pem_data(credentials.ca, "--ca") if https and credentials.ca is not None else None
    if https and ca is None and is_loopback(urlsplit(url).hostname or ""):
        ca = shown_certificate(url)
    cert = key = None
    if https and credentials.client_cert is not None and credentials.client_key is not None:
        cert = _pem_data(credentials.client_cert, "--client-cert")
        key = _pem_data(credentials.client_key, "--client-key")
    document = kubeconfig(url, secret, ca, cert, key)
    if output == "json":
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo(yaml.safe_dump(document, sort_keys=False), nl=False)
