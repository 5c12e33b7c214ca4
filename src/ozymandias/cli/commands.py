"""`ozy`: the command line for Ozymandias, every command (main.py starts it).

This module only composes: it registers each command module's functions on the apps of
`app.py`. Commands appear in `--help` in the order registered here (then the sub-apps, in
the order `app.py` adds them), so a new command goes where it should be listed.
"""

from __future__ import annotations

import os

import typer

from ozymandias.cli import (
    alias_commands,
    cluster_commands,
    completion_command,
    delete_commands,
    deployment_commands,
    drain_command,
    exec_command,
    get_commands,
    history_commands,
    job_commands,
    kubeconfig_command,
    logs_command,
    node_commands,
    node_run,
    plan_command,
    rebalance_command,
    registry_commands,
    secret_commands,
    tls_commands,
    token_commands,
    version_command,
)
from ozymandias.cli.app import (
    acl_app,
    alias_app,
    app,
    delete_app,
    deployment_app,
    describe_app,
    get_app,
    node_app,
    secret_app,
    tls_ca_app,
    tls_cert_app,
    token_app,
)
from ozymandias.cli.compose_commands import compose_app
from ozymandias.cli.help_format import name_the_values

__all__ = ["app", "main"]

app.callback()(version_command.root_options)
app.command()(cluster_commands.up)
app.command()(cluster_commands.down)
app.command()(job_commands.apply)
app.command()(plan_command.plan)
app.command()(job_commands.scale)
app.command()(job_commands.restart)
app.command()(history_commands.history)
app.command()(history_commands.rollback)
app.command()(deployment_commands.promote)
app.command()(logs_command.logs)
app.command("exec")(exec_command.exec_command)
app.command()(rebalance_command.rebalance)
app.command()(cluster_commands.demo)
app.command()(version_command.version)
app.command("kubeconfig")(kubeconfig_command.kubeconfig_command)
app.command()(completion_command.completion)

get_app.command("jobs")(get_commands.get_jobs)
get_app.command("instances")(get_commands.get_instances)
get_app.command("ingress")(get_commands.get_ingress)
get_app.command("nodes")(get_commands.get_nodes)
get_app.command("volumes")(get_commands.get_volumes)
get_app.command("events")(get_commands.get_events)
get_app.command("deployments")(deployment_commands.get_deployments)
describe_app.command("job")(get_commands.describe_job)
describe_app.command("instance")(get_commands.describe_instance)
describe_app.command("node")(get_commands.describe_node)
delete_app.command("job")(delete_commands.delete_job)
delete_app.command("volume")(delete_commands.delete_volume)

deployment_app.command("status")(deployment_commands.deployment_status)
deployment_app.command("fail")(deployment_commands.deployment_fail)

alias_app.command("set")(alias_commands.alias_set)
alias_app.command("get")(alias_commands.alias_get)
alias_app.command("list")(alias_commands.alias_list)
alias_app.command("delete")(alias_commands.alias_delete)

node_app.command("run")(node_run.run)
node_app.command("cordon")(node_commands.cordon)
node_app.command("uncordon")(node_commands.uncordon)
node_app.command("drain")(drain_command.drain)

token_app.command("create")(token_commands.token_create)
token_app.command("list")(token_commands.token_list)
token_app.command("revoke")(token_commands.token_revoke)
app.add_typer(registry_commands.registry_app, name="registry")
secret_app.command("set")(secret_commands.secret_set)
secret_app.command("list")(secret_commands.secret_list)
secret_app.command("get")(secret_commands.secret_get)
secret_app.command("delete")(secret_commands.secret_delete)
secret_app.command("keygen")(secret_commands.secret_keygen)
secret_app.command("rotate-key")(secret_commands.secret_rotate_key)
acl_app.command("bootstrap")(token_commands.acl_bootstrap)

tls_ca_app.command("create")(tls_commands.ca_create)
app.add_typer(compose_app, name="compose")
tls_cert_app.command("create")(tls_commands.cert_create)


def main() -> None:
    """The `ozy` command: the typer app, with its help naming values (see help_format.py),
    answering shell completion (see completion_command.py).

    Named `ozy` however it is started (`python -m ozymandias.cli.main` too): in
    its usage lines, and in the variable its completion scripts set.
    """
    command = typer.main.get_command(app)
    name_the_values(command)
    completion_command.enable_completion()
    instruction = os.environ.get(completion_command.COMPLETE_VAR)
    if instruction:
        os.environ[completion_command.COMPLETE_VAR] = completion_command.typer_instruction(
            instruction
        )
    command(prog_name=completion_command.PROG_NAME, complete_var=completion_command.COMPLETE_VAR)


if __name__ == "__main__":
    main()
