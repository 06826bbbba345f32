#!/usr/bin/env bash
# Installs the built extension where pg_config says (PGXS layout).
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"
lib=.build/release/libplinth.so
[ -f "$lib" ] || { echo "build first: $lib is missing" >&2; exit 1; }
extdir="$($PG_CONFIG --sharedir)/extension"
as_root install -d "$PG_PKGLIBDIR" "$extdir"
as_root install -m 755 "$lib" "$PG_PKGLIBDIR/plinth.so"
as_root install -m 644 plinth.control plinth_test.control "$extdir/"
as_root install -m 644 sql/plinth--*.sql sql/plinth_test--*.sql "$extdir/"
echo "installed plinth.so into $PG_PKGLIBDIR and the extension files into $extdir"
