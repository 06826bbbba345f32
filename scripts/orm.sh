#!/usr/bin/env bash
# `make orm`: two ORMs' own test suites, unchanged, against a server whose
# tables default to Plinth: Django's (its PostgreSQL backend, migrations,
# queries, transactions, select_for_update, the schema editor,
# contrib.postgres and more) and SQLAlchemy's (its PostgreSQL dialect, Core,
# ORM and engine suites).
#
# Both come from PyPI as source distributions (they carry the suites), into
# a virtualenv in the state directory, with psycopg2, tblib and pytest. The
# server is one of its own, with plinth.single_server = on
# (contrib.postgres's GIN and GiST indexes stay allowed) and the extension
# in template1, so the test databases Django creates have it. Not part of
# `make test`: it needs PyPI and takes about twenty minutes. Arguments:
# Django apps to run instead of the list below (SQLAlchemy is then skipped).
# Results: docs/upstream.md, "ORMs".
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"
export LC_ALL=C.UTF-8

state=$(state_dir)
work="$state/orm"
django_version=${DJANGO_VERSION:-4.2.30}
sqlalchemy_version=${SQLALCHEMY_VERSION:-2.0.36}
port=5473
apps=("$@")
sqlalchemy=1
[ ${#apps[@]} -eq 0 ] || sqlalchemy=0
[ ${#apps[@]} -gt 0 ] || apps=(migrations queries model_fields transactions select_for_update backends expressions
	aggregation annotations basic lookup update delete bulk_create schema constraints indexes introspection
	get_or_create model_inheritance many_to_many many_to_one one_to_one custom_pk force_insert_update
	save_delete_hooks select_related prefetch_related ordering dates datetimes timezones postgres_tests
	auth_tests contenttypes_tests fixtures fixtures_regress serializers model_formsets generic_relations
	raw_query custom_lookups db_functions expressions_window filtered_relation null_fk queryset_pickle
	multiple_database test_utils inspectdb distinct_on_fields extra_regress m2m_through m2m_regress
	aggregation_regress cache sessions_tests model_regress delete_regress update_only_fields transaction_hooks)
mkdir -p "$work"

if [ ! -x "$work/venv/bin/python" ]; then
	python3 -c "import ensurepip" 2>/dev/null || as_root apt-get install -y -q python3-venv >/dev/null
	python3 -m venv "$work/venv"
fi
"$work/venv/bin/python" -c "import psycopg2, tblib, pytest, typing_extensions, greenlet, wheel, setuptools" 2>/dev/null ||
	"$work/venv/bin/pip" install -q psycopg2-binary tblib pytest typing_extensions greenlet wheel setuptools
if [ ! -d "$work/django-$django_version/tests" ]; then
	echo "== Django $django_version from PyPI"
	(cd "$work" && "$work/venv/bin/pip" download -q --no-binary :all: --no-deps "Django==$django_version" -d .)
	tar -xzf "$work/django-$django_version.tar.gz" -C "$work"
	"$work/venv/bin/pip" install -q -e "$work/django-$django_version"
fi
sqla="$work/sqlalchemy-$sqlalchemy_version"
if [ $sqlalchemy = 1 ] && [ ! -d "$sqla/test" ]; then
	echo "== SQLAlchemy $sqlalchemy_version from PyPI"
	# Its suite runs from the source tree (lib/), without the C extensions.
	(cd "$work" && "$work/venv/bin/pip" download -q --no-binary :all: --no-deps --no-build-isolation \
		"SQLAlchemy==$sqlalchemy_version" -d .)
	tar -xzf "$work/sqlalchemy-$sqlalchemy_version.tar.gz" -C "$work"
fi

dir="$work/server"
rm -rf "$dir"; mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown -R "$PLINTH_USER": "$dir"
init_report_server "$dir" "$port" plinth <<<"max_connections = 50"
as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
trap 'as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null' EXIT
as_server_user "$PG_BINDIR/psql" -h "$dir" -p $port -U "$PLINTH_USER" -d template1 -qc "CREATE EXTENSION plinth"
as_server_user "$PG_BINDIR/psql" -h "$dir" -p $port -U "$PLINTH_USER" -d postgres -qc "CREATE EXTENSION plinth"
psql_admin() { as_server_user "$PG_BINDIR/psql" -h "$dir" -p $port -U "$PLINTH_USER" -v ON_ERROR_STOP=1 -q "$@"; }

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
rc=0
# The suites are clients like any other: they run as the caller, over the server's socket.
echo "== Django's suite on Plinth: ${#apps[@]} apps"
(cd "$work/django-$django_version/tests" &&
	"$work/venv/bin/python" runtests.py --settings=test_plinth --parallel 1 "${apps[@]}") \
	>"$work/django.txt" 2>&1 || rc=1
grep -E "^(Ran|OK|FAILED)|^(ERROR|FAIL):" "$work/django.txt" || tail -20 "$work/django.txt"
if [ $sqlalchemy = 1 ]; then
	echo "== SQLAlchemy's suite on Plinth: its PostgreSQL dialect, Core, ORM and engine tests"
	psql_admin -d postgres -c "CREATE DATABASE sqla"
	psql_admin -d sqla -c "CREATE SCHEMA test_schema; CREATE SCHEMA test_schema_2; CREATE EXTENSION hstore; CREATE EXTENSION citext"
	(cd "$sqla" && "$work/venv/bin/python" -m pytest test/dialect/postgresql test/sql test/orm test/engine -q \
		-p no:cacheprovider --dburi "postgresql+psycopg2://$PLINTH_USER@/sqla?host=$dir&port=$port") \
		>"$work/sqlalchemy.txt" 2>&1 || rc=1
	grep -E "^FAILED |^ERROR |^=+ .*(passed|failed)" "$work/sqlalchemy.txt" || tail -20 "$work/sqlalchemy.txt"
fi
if grep -qE "was terminated by signal|Fatal error:" "$dir/server.log"; then
	echo "A BACKEND CRASHED: see $dir/server.log"
	rc=1
fi
echo "(reports: $work/django.txt, $work/sqlalchemy.txt; server log: $dir/server.log)"
exit $rc
