"""Ingress: every node routes HTTP by Host, and TCP by port, to healthy instances."""
