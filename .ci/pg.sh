#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the store's conformance tests.
#
#   eval "$(.ci/pg.sh start)"      # starts a cluster, exports KIDSHIELD_TEST_POSTGRES
#   go test ./store/...
#   .ci/pg.sh stop                 # stops it and deletes its data directory
#
# start prints only shell assignments on stdout (progress goes to stderr):
#   export KIDSHIELD_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   export KIDSHIELD_PG_STOPFILE=...
# The stop command is written to $KIDSHIELD_PG_STOPFILE (default
# ${TMPDIR:-/tmp}/kidshield-pg.stop); stop runs it. Set PGPORT to ask for a
# port; otherwise the first free port from 55432 up is used.
#
# Works as root (the server runs as user postgres, which PostgreSQL requires)
# and as an ordinary user. Installs Debian's postgresql package only when no
# initdb is found. The cluster trusts every local connection: tests only.
set -euo pipefail

STOPFILE=${KIDSHIELD_PG_STOPFILE:-${TMPDIR:-/tmp}/kidshield-pg.stop}

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

find_pgbin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	[[ -e $STOPFILE ]] && die "a cluster is already running (stop file $STOPFILE exists); run '$0 stop' first, or set KIDSHIELD_PG_STOPFILE to start another"

	local pgbin
	pgbin=$(find_pgbin)
	if [[ -z $pgbin ]]; then
		log "no initdb found; installing postgresql"
		[[ $(id -u) == 0 ]] || die "initdb not found and not root: install postgresql first"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2
		apt-get install -y --no-install-recommends postgresql >&2
		pgbin=$(find_pgbin)
		[[ -n $pgbin ]] || die "initdb still not found after installing postgresql"
	fi

	local -a as_pg=()
	if [[ $(id -u) == 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin postgres
		as_pg=(runuser -u postgres --)
	fi

	local port=${PGPORT:-}
	if [[ -z $port ]]; then
		for ((port = 55432; port < 55532; port++)); do
			port_in_use "$port" || break
		done
		((port < 55532)) || die "no free port in 55432..55531"
	elif port_in_use "$port"; then
		die "port $port is in use"
	fi

	local pgdata
	pgdata=$(mktemp -d "${TMPDIR:-/tmp}/kidshield-pg.XXXXXX")
	chmod 700 "$pgdata"
	[[ $(id -u) == 0 ]] && chown postgres:postgres "$pgdata"
	# On any failure from here on, take the half-made cluster down again.
	trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$pgdata"' ERR

	log "initdb $pgdata ($pgbin)"
	"${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$pgdata.initdb.log" 2>&1 ||
		{ cat "$pgdata.initdb.log" >&2; rm -f "$pgdata.initdb.log"; false; }
	rm -f "$pgdata.initdb.log"

	log "starting on 127.0.0.1:$port"
	# fsync=off etc.: the cluster is thrown away, so durability buys nothing
	# and costs test time.
	"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $pgdata -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >&2 || { cat "$pgdata/log" >&2; false; }

	local i
	for ((i = 0; i < 60; i++)); do
		"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
		sleep 0.5
	done
	"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || { cat "$pgdata/log" >&2; false; }
	trap - ERR

	local q
	printf -v q '%q ' "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop
	printf '%s>/dev/null && rm -rf %q\n' "$q" "$pgdata" >"$STOPFILE"
	log "ready; stop with: $0 stop"
	echo "export KIDSHIELD_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
	printf 'export KIDSHIELD_PG_STOPFILE=%q\n' "$STOPFILE"
}

stop() {
	[[ -e $STOPFILE ]] || die "no running cluster (no stop file $STOPFILE)"
	bash "$STOPFILE" >&2
	rm -f "$STOPFILE"
	log "stopped"
}

case ${1:-} in
start) start ;;
stop) stop ;;
*) die "usage: eval \"\$($0 start)\" ... $0 stop" ;;
esac
