"""Deployments <-> jobs: the two directions of the mapping, in one place for the server. Pure.

- `job_spec_from_deployment(obj) -> dict`: an apps/v1 Deployment as the job spec
  dict `ozy apply` takes (deployment_spec.py). It is NOT validated as a JobSpec:
  the caller runs it through `spec.loader.job_from_data` with the node's limits.
  Fields no job can hold raise `Unsupported` (a `KubeError`, Invalid, whose
  causes name each field).
- `deployment_from_job(record, deployment, instances, *, resource_version,
  created=None) -> dict`: the Deployment, with a status that follows the job's
  deployment record (deployment_render.py). `created` is when the job was first
  made, by default `record.created_at` (its uid and AGE derive from it; not
  `submitted_at`, which changes with every version).
- `deployment_invalid(obj, error)`: the `SpecError` of validating that dict, as an
  Invalid Status whose causes name the Deployment's fields (spec_errors.py).
- `template_labels(spec)`: the labels of the job's pods, which the Deployment's
  selector selects (pods.py gives them to each Pod).

A round trip is exact: `job_spec_from_deployment(deployment_from_job(...))`
validates to the job spec it was rendered from, its annotations apart (it adds
the Deployment spec it was read from), so `kubectl diff` sees no change where
there is none. A system job is not a Deployment: the server leaves them out.
"""

from ozymandias.kube.deployment_render import (
    JOB_LABEL,
    NAMESPACE,
    deployment_from_job,
    deployment_spec,
    template_labels,
    timestamp,
)
from ozymandias.kube.deployment_spec import (
    KUBE_SPEC_ANNOTATION,
    REVISION_ANNOTATION,
    Unsupported,
    job_spec_from_deployment,
)
from ozymandias.kube.job_extras import EXTRAS_ANNOTATION
from ozymandias.kube.spec_errors import deployment_invalid

__all__ = [
    "EXTRAS_ANNOTATION",
    "JOB_LABEL",
    "KUBE_SPEC_ANNOTATION",
    "NAMESPACE",
    "REVISION_ANNOTATION",
    "Unsupported",
    "deployment_from_job",
    "deployment_invalid",
    "deployment_spec",
    "job_spec_from_deployment",
    "template_labels",
    "timestamp",
]
