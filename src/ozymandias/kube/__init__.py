"""The Kubernetes API subset Ozymandias speaks, as pure data mappings.

Deployments, Pods, Nodes and Events in Kubernetes' JSON shape, built from (and,
for Deployments, turned back into) the cluster's own records; Table rendering,
Status errors, label and field selectors, and the patch formats kubectl sends.
Everything here takes data and returns data: the HTTP server that serves it
lives in `ozymandias.kube_api`.
"""
