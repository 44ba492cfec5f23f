# syntax=docker/dockerfile:1
# One image recipe for every Microcred service, the canary and the portal:
#   docker build --build-arg SERVICE=catalog -t microcred/catalog:0.1.0 .
# The container runs `python -m microcred.$SERVICE <command>`; the command defaults to `serve`
# (HTTP on :8000 plus the service's Kafka consumers and outbox relay) and `migrate` runs its
# Alembic migrations, so the same image serves as the migration init container / one-shot.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN case "${SERVICE}" in \
      catalog|submission|review|award|licensure|canary|portal) ;; \
      *) echo "build arg SERVICE must be one of catalog, submission, review, award, licensure, canary, portal (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
# Compilers live only in this stage: they are here for any dependency that ships no wheel for
# this platform, and none of them reaches the runtime stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Shared libraries first: they change less often than a service, so their layer caches longer.
COPY libs/events libs/events
COPY libs/runtime libs/runtime
RUN pip install ./libs/events ./libs/runtime
COPY services/${SERVICE} services/${SERVICE}
RUN pip install ./services/${SERVICE} \
 && python -m compileall -q /opt/venv/lib \
 && python -c "import importlib; importlib.import_module('microcred.${SERVICE}')"

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="microcred-${SERVICE}"
# Bytecode is compiled at build time; the root filesystem is read-only in Kubernetes, so the
# interpreter must not try to write .pyc files at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MICROCRED_SERVICE=${SERVICE} \
    MICROCRED_HTTP_HOST=0.0.0.0 \
    MICROCRED_HTTP_PORT=8000
RUN groupadd --system --gid 10001 microcred \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin microcred
# Mount points owned by the service user: a named volume mounted on one starts with its owner, so the
# compose stack's development issuer (microcred.runtime.dev_issuer) can write its key and JWKS as 10001.
RUN install -d -o 10001 -g 10001 -m 0700 /var/lib/microcred/dev-issuer \
 && install -d -o 10001 -g 10001 -m 0755 /var/lib/microcred/jwks
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK here: the same image also runs the one-shot `migrate` command, which never
# serves /health. docker-compose.yml and the Kubernetes probes check /health on the server only.
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"microcred.${MICROCRED_SERVICE}\" \"$@\"", "microcred"]
CMD ["serve"]
