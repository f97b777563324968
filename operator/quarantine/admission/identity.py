"""Who Quarantine is to the API server, so tamper protection lets its own requests through."""

from __future__ import annotations

from kubernetes import client

from quarantine.k8s.raw import request_json

_SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def own_username(api: client.ApiClient) -> str:
    """The username the API server sees for `api`'s credentials (SelfSubjectReview, GA in 1.28).

    Every authenticated identity may ask this about itself, so no extra RBAC is needed; in a pod
    it is `system:serviceaccount:<namespace>:<name>`.
    """
    review = request_json(
        api,
        "POST",
        _SELF_SUBJECT_REVIEWS,
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    username = ((review.get("status") or {}).get("userInfo") or {}).get("username")
    if not username:
        raise RuntimeError("the API server's SelfSubjectReview answer names no username")
    return str(username)
