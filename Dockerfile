# syntax=docker/dockerfile:1
# The Quarantine image: the `quarantine` command on a slim Python, run as a non-root user.
#
#   docker build -t ghcr.io/quarantine-dev/quarantine:0.1.0 .
#
# The builder stage turns the project and its dependencies into wheels; the final stage only
# installs those wheels, so no compiler, source tree or pip cache ends up in the image.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
# One wheel for Quarantine plus one per dependency, resolved from pyproject.toml's pins.
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="quarantine" \
      org.opencontainers.image.description="Kubernetes detection and response with Elastic EQL rules" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/quarantine-dev/quarantine" \
      org.opencontainers.image.licenses="Apache-2.0"
# The root filesystem is mounted read-only in Kubernetes: never write bytecode at run time, send
# logs straight to stdout, and keep HOME (and any library cache) under /tmp, the one writable place.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    QUARANTINE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
# Bytecode is compiled here, at build time, while site-packages is still writable. The wheels are
# bind-mounted from the builder, so they never become a layer of this image; pip leaves with them.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/quarantine-*.whl \
    && pip uninstall --yes pip \
    && groupadd --system --gid 65532 quarantine \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin quarantine
USER 65532:65532
WORKDIR /tmp
# 8080: HTTP intake and /healthz; 9090: metrics; 9443: admission webhook (HTTPS).
EXPOSE 8080 9090 9443
# For `docker run`; Kubernetes ignores HEALTHCHECK and uses the chart's probes on /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['QUARANTINE_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["quarantine"]
CMD ["run"]
