"""TLS: the settings a node is given (`settings`) and the certificates the CLI makes."""
