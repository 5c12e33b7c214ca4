"""`ozy delete job JOB` and `ozy delete volume JOB/NAME`; `ozy delete JOB` is the first
(see job_by_default.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import ApiOption, YesOption, call, confirm_destroying, err, fail, out
from ozymandias.spec.sizes import format_size


def delete_job(
    job: Annotated[str, typer.Argument(help="Job name.")],
    purge_volumes: Annotated[
        bool,
        typer.Option(
            "--purge-volumes", help="Also remove the job's shared volumes (kept by default)."
        ),
    ] = False,
    yes: YesOption = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Delete a job: its nodes stop and remove its pods and local volumes.

    Its shared volumes stay, so a job re-created with the same name gets its
    data back; `--purge-volumes` removes them too (asking first on a terminal,
    or pass --yes). `ozy delete JOB` is the same command.

    Example: ozy delete job simple-webapp --purge-volumes
    """
    if purge_volumes:
        confirm_destroying(f"deleting job {job} with its shared volumes", yes=yes)
    result = call(
        api, "DELETE", f"/v1/jobs/{job}", params={"purgeVolumes": "true"} if purge_volumes else {}
    )
    out.print(f"job {job} deleted")
    for purged in result.get("purgedVolumes", []):
        out.print(f"removing shared volume {purged}")
    for kept in result.get("keptVolumes", []):
        out.print(
            f"kept shared volume {kept} (remove it with `ozy delete volume {kept}`)",
            highlight=False,
            soft_wrap=True,
        )


def delete_volume(
    full_name: Annotated[
        str,
        typer.Argument(
            metavar="JOB/NAME", help="The shared volume, as `ozy get volumes` names it."
        ),
    ],
    forget: Annotated[
        bool,
        typer.Option(
            "--forget",
            help="Drop the volume's record now and free its space, leaving its data on its"
            " zone's storage (for a zone no live node reaches any more).",
        ),
    ] = False,
    yes: YesOption = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Delete a shared volume a deleted job kept, with its data.

    A node of the volume's zone removes it; if none is left, `--forget` lets
    it go without its data. Removing a volume's data asks first on a terminal
    (or pass --yes).

    Example: ozy delete volume simple-webapp/data-shared --yes
    """
    job, slash, name = full_name.partition("/")
    if not slash or not job or not name or "/" in name:
        raise fail(f"a shared volume is named JOB/NAME, not {full_name!r}", code=2)
    if not forget:  # forgetting leaves the data where it is
        confirm_destroying(f"deleting shared volume {full_name}", yes=yes)
    params = {"forget": "true"} if forget else {}
    result = call(api, "DELETE", f"/v1/volumes/{job}/{name}", params=params)
    if forget:
        out.print(
            f"shared volume {full_name} forgotten: its {format_size(result['size'])} in"
            f" {result['where']} are free again; its data stays on that storage"
        )
        return
    where = str(result["where"])  # "zone a", or "node n1" for a node's own storage
    by = where if where.startswith("node ") else f"a node of {where}"
    out.print(f"shared volume {full_name} is being removed by {by}")
    if not result["reachable"]:
        err.print(
            f"[yellow]warning:[/] no live node reaches {result['where']}'s shared storage;"
            " the volume is removed once one does (or `--forget` it, leaving its data there)"
        )
