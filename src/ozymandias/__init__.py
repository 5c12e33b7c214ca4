"""Ozymandias: a small container orchestrator of peer nodes coordinated through etcd."""

import os
from importlib.metadata import version

# Node daemons fork child processes (the podman service, HAProxy, etcd) while
# gRPC threads are busy talking to etcd. gRPC's fork handlers then run in the
# child between fork and exec; here they crashed children (SIGSEGV) and broke
# the parent's epoll ("file descriptor was created pre fork"). Every child
# execs at once and none uses gRPC, so the handlers are switched off. This
# must happen before grpc is first imported, hence here.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = version("ozymandias")
