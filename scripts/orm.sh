#!/usr/bin/env bash
# `make orm`: Django's own test suite (its PostgreSQL backend, migrations,
# queries, transactions, select_for_update, schema editor, contrib.postgres
# and more) against a server whose tables default to Plinth, unchanged.
#
# Django comes from PyPI (its source distribution carries the suite), into a
# virtualenv in the state directory, with psycopg2 and tblib. The server is
# one of its own, with plinth.single_server = on (contrib.postgres's GIN and
# GiST indexes stay allowed) and the extension in template1, so the test
# databases Django creates have it. Not part of `make test`: it needs PyPI
# and takes minutes. Apps to run: the arguments (default: the list below).
# Results: docs/upstream.md, "ORMs".
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"
export LC_ALL=C.UTF-8

state=$(state_dir)
work="$state/orm"
django_version=${DJANGO_VERSION:-4.2.30}
port=5473
apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(migrations queries model_fields transactions select_for_update backends expressions
	aggregation annotations basic lookup update delete bulk_create schema constraints indexes introspection
	get_or_create model_inheritance many_to_many many_to_one one_to_one custom_pk force_insert_update
	save_delete_hooks select_related prefetch_related ordering dates datetimes timezones postgres_tests
	auth_tests contenttypes_tests fixtures fixtures_regress serializers model_formsets generic_relations
	raw_query custom_lookups db_functions expressions_window filtered_relation null_fk queryset_pickle
	multiple_database test_utils inspectdb distinct_on_fields extra_regress m2m_through m2m_regress
	aggregation_regress cache sessions_tests model_regress delete_regress update_only_fields transaction_hooks)
mkdir -p "$work"

if [ ! -x "$work/venv/bin/python" ] || [ ! -d "$work/django-$django_version/tests" ]; then
	echo "== Django $django_version from PyPI"
	python3 -c "import ensurepip" 2>/dev/null || as_root apt-get install -y -q python3-venv >/dev/null
	python3 -m venv "$work/venv"
	(cd "$work" && "$work/venv/bin/pip" download -q --no-binary :all: --no-deps "Django==$django_version" -d .)
	tar -xzf "$work/django-$django_version.tar.gz" -C "$work"
	"$work/venv/bin/pip" install -q -e "$work/django-$django_version" psycopg2-binary tblib
fi

dir="$work/server"
rm -rf "$dir"; mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown -R "$PLINTH_USER": "$dir"
as_server_user "$PG_BINDIR/initdb" -D "$dir/data" -U "$PLINTH_USER" --no-sync >"$dir/initdb.log" 2>&1
cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'plinth'
plinth.data_directory = '$dir/store'
plinth.single_server = on
default_table_access_method = 'plinth'
max_connections = 50
EOF
as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
trap 'as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null' EXIT
as_server_user "$PG_BINDIR/psql" -h "$dir" -p $port -U "$PLINTH_USER" -d template1 -qc "CREATE EXTENSION plinth"
as_server_user "$PG_BINDIR/psql" -h "$dir" -p $port -U "$PLINTH_USER" -d postgres -qc "CREATE EXTENSION plinth"

cat >"$work/django-$django_version/tests/test_plinth.py" <<EOF
DATABASES = {
    alias: {"ENGINE": "django.db.backends.postgresql", "NAME": "django_" + alias, "USER": "$PLINTH_USER",
            "HOST": "$dir", "PORT": $port}
    for alias in ("default", "other")
}
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
EOF
echo "== Django's suite on Plinth: ${#apps[@]} apps"
rc=0
# A client like any other: it runs as the caller, over the server's socket.
(cd "$work/django-$django_version/tests" &&
	"$work/venv/bin/python" runtests.py --settings=test_plinth --parallel 1 "${apps[@]}") \
	>"$work/report.txt" 2>&1 || rc=$?
grep -E "^(Ran|OK|FAILED)|^(ERROR|FAIL):" "$work/report.txt" || tail -20 "$work/report.txt"
if grep -qE "was terminated by signal|Fatal error:" "$dir/server.log"; then
	echo "A BACKEND CRASHED: see $dir/server.log"
	rc=1
fi
echo "(report: $work/report.txt; server log: $dir/server.log)"
exit $rc
