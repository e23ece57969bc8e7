#!/usr/bin/env bash
# dnsfence beside dnsmasq and Unbound: `make bench`, or `bash bench/run.sh [--quick]`.
#
#   --quick         one run with short cases, for iteration; results in bench/results only
#   --record        record in docs/BENCHMARKS.md even with --quick
#   --no-record     do not touch docs/BENCHMARKS.md
#   --baseline DIR  also measure the dnsfence of checkout DIR (e.g. a git worktree of an
#                   earlier commit) with the same flags, right after this one: blocked,
#                   cached, forwarded, mixed with the shipped list, and "this ÷ baseline"
#                   (~45 s more per run; env BENCH_BASELINE=DIR does the same)
#
# Everything runs on 127.0.0.1 and stops at the end (or on Ctrl-C, or after 10 minutes,
# 12 with --baseline). See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cd "$repo"

args=()
baseline=${BENCH_BASELINE:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --quick | --record | --no-record) args+=("$1") ;;
        --baseline) [ $# -ge 2 ] || { echo "bench/run.sh: --baseline needs DIR" >&2; exit 2; }
                    baseline=$2; shift ;;
        --baseline=*) baseline=${1#--baseline=} ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
limit=590
if [ -n "$baseline" ]; then
    [ -f "$baseline/resolver/__main__.py" ] || {
        echo "bench/run.sh: --baseline $baseline is not a dnsfence checkout" >&2; exit 2; }
    args+=(--baseline "$(cd "$baseline" && pwd)")
    limit=710
fi

say() { printf '[bench] %s\n' "$*" >&2; }

# --- tools: Debian packages, installed only when missing ---------------------------------------
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
missing=()
have dnsperf || missing+=(dnsperf)
# dnsmasq-base is the binary alone; the `dnsmasq` package would also start a system
# service that reads /etc/resolv.conf, which the benchmark must never do.
have dnsmasq || missing+=(dnsmasq-base)
have unbound || missing+=(unbound)
have taskset || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt-get"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    # Keep the packages' services from starting (unbound's would resolve from the
    # internet): Debian's policy-rc.d hook, only if none exists, removed afterwards.
    policy=/usr/sbin/policy-rc.d
    added_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        added_policy=yes
    fi
    status=0
    "${sudo[@]}" apt-get update && \
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${missing[@]}" || status=$?
    [ "$added_policy" = no ] || "${sudo[@]}" rm -f "$policy"
    [ "$status" -eq 0 ] || { say "apt-get failed ($status)"; exit "$status"; }
fi

if [ "$(nproc)" -lt 2 ]; then
    say "needs at least 2 CPUs (server on CPU 0, dnsperf and the upstream on CPU 1)"
    exit 1
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then
        python="$repo/.venv/bin/python"
    else
        python=python3
    fi
fi
"$python" -c 'import resolver, yaml' 2>/dev/null || {
    say "$python cannot import dnsfence; run 'make venv' first (or set PYTHON)"
    exit 1
}

# --- run, and make sure nothing outlives us ---------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/dnsfence-bench.XXXXXX")
export BENCH_PGID_FILE="$work/pgids"
: >"$BENCH_PGID_FILE"
suite=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$suite" ] && kill -0 "$suite" 2>/dev/null; then
        kill -TERM "$suite" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$suite" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$suite" 2>/dev/null || true
    fi
    # every server was started in its own session: kill each recorded process group
    local pgid left=0
    while read -r pgid; do
        [ -n "$pgid" ] || continue
        if kill -0 -- "-$pgid" 2>/dev/null; then
            kill -TERM -- "-$pgid" 2>/dev/null || true
            sleep 0.5
            kill -KILL -- "-$pgid" 2>/dev/null || true
            left=$((left + 1))
        fi
    done <"$BENCH_PGID_FILE"
    [ "$left" -eq 0 ] || say "stopped $left leftover process group(s)"
    if [ "$status" -eq 0 ]; then
        rm -rf "$work"
    else
        say "failed ($status); configs and server logs kept in $work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# 10 minutes for the whole run (12 with a baseline): the suite plans for 9 (plus the
# baseline's cases) and skips what does not fit; timeout is the backstop (TERM, then KILL
# 10 s later).
unset BENCH_BASELINE  # passed as --baseline, already checked
timeout -k 10 "$limit" "$python" -m bench.suite --work "$work" ${args[@]+"${args[@]}"} &
suite=$!
wait "$suite"
