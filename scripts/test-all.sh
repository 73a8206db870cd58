#!/usr/bin/env bash
# Runs every test of kidshield on a fresh Debian 12 machine with Go: installs with apt-get what
# the tests need (dig, kdig, Unbound, BIND, PowerDNS Recursor, Knot Resolver, PostgreSQL, Chromium
# and fonts with Vietnamese glyphs for the browser tests), starts a throwaway PostgreSQL cluster, then
# runs gofmt, go vet, and go test -race over the whole module (storage suite on SQLite and
# PostgreSQL, end-to-end tests that drive the real binary with dig and kdig, and a short run of
# every fuzz target). Usage: scripts/test-all.sh   (FUZZTIME=10s to fuzz longer)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v kdig >/dev/null || need+=(knot-dnsutils)
command -v unbound >/dev/null || need+=(unbound)
command -v named >/dev/null || need+=(bind9)
command -v pdns_recursor >/dev/null || need+=(pdns-recursor)
command -v kresd >/dev/null || need+=(knot-resolver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
dpkg -s fonts-noto-core >/dev/null 2>&1 || need+=(fonts-noto-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts unbound, named (bind9) and pdns-recursor as services on install (kresd@1 when
# enabled); the tests run their own on loopback ports.
systemctl disable --now unbound >/dev/null 2>&1 || true
systemctl disable --now named >/dev/null 2>&1 || true
systemctl disable --now pdns-recursor >/dev/null 2>&1 || true
systemctl disable --now kresd@1 kres-cache-gc >/dev/null 2>&1 || true

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== PostgreSQL (throwaway cluster)"
eval "$(.ci/pg.sh start)"
trap '.ci/pg.sh stop >/dev/null 2>&1 || true' EXIT

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz smoke (${FUZZTIME:-3s} per target)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fz in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    # Go's fuzzing engine sometimes ends a short run with "context deadline exceeded" and no
    # failing input (a worker busy when the time is up): that is not a finding, so such a run
    # is tried once more. A real failure writes its input and fails at once.
    ok=0
    for try in 1 2; do
      if go test -run '^$' -fuzz "^${fz}\$" -fuzztime "${FUZZTIME:-3s}" "$pkg" >/tmp/kidshield-fuzz.log 2>&1; then ok=1; break; fi
      if grep -q "Failing input written" /tmp/kidshield-fuzz.log || ! grep -q "context deadline exceeded" /tmp/kidshield-fuzz.log; then break; fi
      echo "note $pkg $fz: the fuzzing engine timed out without a finding; trying again"
    done
    [ "$ok" = 1 ] || { cat /tmp/kidshield-fuzz.log; echo "fuzz $pkg $fz failed"; exit 1; }
    echo "ok   $pkg $fz"
  done
done
echo "== all tests passed"
