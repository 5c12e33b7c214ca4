"""The Kubernetes API's objects and semantics, as pure functions over JSON dicts."""
