# dnsfence as a container: `dnsfence serve` on port 53 (UDP+TCP) as a non-root user.
# docker-compose.yml mounts the blocklists and the config read-only over the defaults below,
# and runs it with a read-only root file system: only the two volumes below are written.

# Build stage: the wheel, with the compiled parts: the UDP batch (resolver/_udp_batch.c) and
# the hot modules compiled with mypyc from the same source (DNSFENCE_COMPILE=1, setup.py).
# gcc and mypy live in this stage only; the image below gets the built wheel and neither.
FROM python:3.11-slim-bookworm AS build

# A failing command anywhere in a pipe fails the step.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# gcc and libc6-dev are not pinned to a version, as libcap2-bin below: a pinned Debian
# version disappears from the mirror with the next security update, and this stage is
# thrown away. (The image's Python ships its headers.)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

# mypyc comes with mypy; the build runs in this stage's environment (--no-build-isolation),
# so that setup.py finds it. Versions as the test extra asks for them.
RUN pip install --no-cache-dir --disable-pip-version-check "setuptools>=70.1" "mypy>=1.10"

# .dockerignore lets in only what the package build needs (and the default config).
# Both compiled parts are optional for `pip install` (a machine without a compiler still
# installs dnsfence, as pure Python); here they must be there, so the build stops if either
# did not compile.
COPY . /tmp/dnsfence-src
RUN DNSFENCE_COMPILE=1 pip wheel --no-cache-dir --no-deps --no-build-isolation \
        --disable-pip-version-check --wheel-dir /tmp/wheels /tmp/dnsfence-src \
    && python -c 'import sys, zipfile; [w] = sys.argv[1:]; \
        names = zipfile.ZipFile(w).namelist(); \
        built = [p for p in ("resolver/_udp_batch.", "resolver/_hot__mypyc.") \
                 if any(n.startswith(p) and n.endswith(".so") for n in names)]; \
        sys.exit(len(built) != 2 or "resolver/compiled.json" not in names)' \
        /tmp/wheels/dnsfence-*.whl

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A failing command anywhere in a pipe fails the step.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Port 53 needs CAP_NET_BIND_SERVICE. It is granted as a *file capability on the interpreter*
# (setcap on the real binary: python3 is a symlink, and setcap does not follow symlinks), so
# the non-root user receives it at exec time with no runtime flag at all: Docker's default
# bounding set contains NET_BIND_SERVICE, and compose narrows that set to it alone
# (cap_drop: ALL, cap_add: NET_BIND_SERVICE).
#   Why not cap_add alone: Docker hands added capabilities only to root processes, not to a
#   USER like ours. Why not rely on net.ipv4.ip_unprivileged_port_start=0 (newer Docker sets
#   it per container): other runtimes and network_mode: host do not.
#   Caveats: every Python program in this image gets the capability (the image runs nothing
#   else); `no-new-privileges` disables file capabilities; and a runtime whose bounding set
#   lacks NET_BIND_SERVICE refuses to exec python at all (capabilities(7), "capability-dumb
#   binaries"): keep NET_BIND_SERVICE in the bounding set, or listen on a port >= 1024.
# libcap2-bin is not pinned to a version: it is removed again in this very step, and a
# pinned Debian version disappears from the mirror with the next security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcap2-bin \
    && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v python3)")" \
    && getcap "$(readlink -f "$(command -v python3)")" | grep -q cap_net_bind_service \
    && apt-get purge -y --auto-remove libcap2-bin \
    && rm -rf /var/lib/apt/lists/*

# The build stage's wheel. pip compiles the bytecode here, at build time: with a read-only
# root nothing can be compiled later, and every start and health check would compile the
# modules again.
COPY --from=build /tmp/wheels /tmp/wheels
RUN pip install --no-cache-dir --disable-pip-version-check /tmp/wheels/dnsfence-*.whl \
    && rm -rf /tmp/wheels

RUN groupadd --system --gid 10053 dnsfence \
    && useradd --system --uid 10053 --gid 10053 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin dnsfence \
    && mkdir -p /etc/dnsfence/blocklists /var/cache/dnsfence /var/lib/dnsfence \
    && chown dnsfence:dnsfence /var/cache/dnsfence /var/lib/dnsfence

# Defaults so `docker run dnsfence:latest` works; compose mounts the real ones over them.
COPY deploy/dnsfence.yaml /etc/dnsfence/dnsfence.yaml

# Numeric, so that a runtime can tell it is not root without the image's /etc/passwd
# (Kubernetes' runAsNonRoot refuses a user name).
USER 10053:10053
EXPOSE 53/udp 53/tcp

# Healthy = what the server says of itself on /healthz (http.listen, loopback in the shipped
# config), or its CHAOS status query when HTTP is off; never which lists are in force.
# `dnsfence healthcheck` reads the same config file as `serve`, gives up after 3 s and prints
# one line (`docker inspect`). start-period covers a first start that downloads `url:`
# sources (at most 10 s, see lists.on_missing) and loads large lists (a few seconds); with
# lists.on_missing: fail each download may take up to its timeouts: raise it then. No
# --start-interval: Docker Engines before 25 and docker-compose 1.x reject it.
# docker-compose.yml repeats this check (tests/test_deploy.py keeps them equal).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["dnsfence", "healthcheck", "--config", "/etc/dnsfence/dnsfence.yaml"]

ENTRYPOINT ["dnsfence"]
CMD ["serve", "--config", "/etc/dnsfence/dnsfence.yaml"]
