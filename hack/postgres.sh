#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries are installed (Debian's package), for the tests that start a
# private server (internal/pgtest). Installs the package when they are missing and this machine can
# (root and apt-get); prints the binaries' folder.
set -euo pipefail
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(find_bin || true)
if [[ -z "${bin}" || ! -x "${bin}/initdb" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "hack/postgres.sh: installing postgresql (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    bin=$(find_bin)
  else
    echo "hack/postgres.sh: PostgreSQL's server binaries are missing; install the postgresql package" >&2
    exit 1
  fi
fi
echo "${bin}"
