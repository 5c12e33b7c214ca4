"""Compose files, as people write them, turned into job specs (see README "Compose files")."""
