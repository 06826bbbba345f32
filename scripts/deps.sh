#!/usr/bin/env bash
# Installs what building and testing Plinth needs, from Debian's packages,
# when it is missing. Run by `make run` and `make test`; safe to run again.
source "$(dirname "$0")/common.sh"

need=()
pg_major=$($PG_CONFIG --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
[ -f "$($PG_CONFIG --includedir-server)/postgres.h" ] || need+=("postgresql-server-dev-$pg_major")
[ -f /usr/include/lmdb.h ] || need+=(liblmdb-dev)
# Index keys under ICU collations use ICU's sort keys (unicode/ucol.h).
[ -f /usr/include/unicode/ucol.h ] || need+=(libicu-dev)
command -v mdb_stat >/dev/null || need+=(lmdb-utils)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	echo "Installing Debian packages: ${need[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
command -v swift >/dev/null || { echo "Swift not found: install it at /opt/swift (README: Requirements)" >&2; exit 1; }
