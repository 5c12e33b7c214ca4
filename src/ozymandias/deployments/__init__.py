"""Deployments: how a new version of a job replaces the running one (see README, "Deployments").

schedules.py  a schedule's rollout state (pinned versions, surge) kept across plans (pure)
begin.py      what a submit of a new version writes: pins, older specs, the deployment (pure)
rollout.py    the next step of a running deployment, decided from etcd state (pure)
deployer.py   the part every node runs: takes the steps of the deployments it is
              responsible for, each one compare-and-swap
"""
