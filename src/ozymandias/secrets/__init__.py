"""Secrets: values sealed with AES-256-GCM before they reach etcd, opened only on nodes.

`sealing.py` (pure) seals and opens one secret's values; `keyring.py` reads
the node's key file (and makes one); `references.py` (pure) what jobs refer
to; `service.py` sets, deletes and re-seals secrets for the API.
"""
