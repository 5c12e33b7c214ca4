"""What tests share, so that no test module imports another test module or a conftest.

- `waiting`: `wait_until`, polling until a condition holds; `within` and `eventually`
  for async tests.
- `machine`: this machine: the repository, free ports, commands, the pod range's
  blackhole route, mounts and loop devices.
- `podman`: podman's containers and pods, by label.
- `auth`: the admin token every test's API calls carry (granted in each test etcd).
- `etcd`: reads and wipes through etcdctl, throwaway etcd servers (plain, and TLS with auth),
  and `running(mirror)`.
- `nodes`: `ozy node run` daemons as subprocesses (`NodeProcess`, `NodeFactory`) and the
  cleanup of what a killed node leaves behind.
- `cluster`: the cluster state as etcd holds it, read at one revision, and the
  scheduler's invariants over it.
- `jobs`: job specs (YAML) that several test files submit.
- `placement`: unwrapping the result of a placement plan.
- `hosts`: sandboxed "hosts" (netns + pid/mount namespaces), a 3-member etcd on their
  bridge, and `HostFactory`.
- `tls`: `TestPki`, a CA and certificates for tests of TLS.
- `host_checks`: where each instance really runs on the hosts, against what etcd reports.
"""
