#!/usr/bin/env bash
# Runs every check broker has, the way CI runs them:
#
#   go vet; gofmt; GOOS=darwin and GOOS=windows builds and vet (tests included); staticcheck;
#   go test -race ./... with the real parts on loopback; a short fuzz pass.
#
# Integration tests use real parts, never mocks: moto_server for STS and IAM
# (each test package starts its own through internal/moto), gnome-keyring on a
# private D-Bus session bus started here, the kernel keyring, the aws CLI and
# boto3. BROKER_REQUIRE_INTEGRATION=1 makes a test fail, not skip, when a part
# is missing.
#
# The tests get a private HOME and XDG folders in a temporary directory, so
# they never see your ~/.aws or your keyring. Go's caches stay where they are.
#
# Usage: scripts/test.sh            (from any directory)
# Environment: FUZZTIME=10s         how long each fuzz target runs
#
# Missing Debian packages (gnome-keyring dbus dbus-x11 keyutils
# libsecret-tools) are installed with apt-get. moto, the aws CLI and boto3
# come from PyPI and must already be there.

set -Eeuo pipefail

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2 # 2026.2.2, knows Go 1.26
# govulncheck is left out: it needs its database from https://vuln.go.dev,
# which the CI machines cannot reach.
DEBIAN_PACKAGES=(gnome-keyring dbus dbus-x11 keyutils libsecret-tools)
FUZZTIME=${FUZZTIME:-10s}
KEYRING_PASSWORD=broker-test # gnome-keyring creates no login keyring for ""

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/private-keyring.sh
. scripts/private-keyring.sh

started=$SECONDS
step=preflight
tmp=
dbus_pid=
keyring_pid=

say() { printf '\n== %s  [%s]\n' "$*" "$(elapsed)" >&2; }
fail() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 1
}
elapsed() { printf '%dm%02ds' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

# stop ends a child of this script: SIGTERM, then SIGKILL after 5s.
stop() {
	[[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 0
	kill "$1" 2>/dev/null
	for ((n = 0; n < 50; n++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	local code=$?
	set +e
	trap - EXIT INT TERM
	# Stop only what this script started, by PID.
	stop "$keyring_pid"
	stop "$dbus_pid"
	[[ -n $tmp ]] && rm -rf "$tmp"
	if ((code == 0)); then
		printf '\ntest.sh: PASS: all checks passed in %s\n' "$(elapsed)"
	else
		printf '\ntest.sh: FAIL: %s failed (exit %d) after %s\n' "$step" "$code" "$(elapsed)" >&2
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -------------------------------------------------------------------

command -v go >/dev/null || fail "go not found on PATH; install Go $(awk '$1 == "go" {print $2}' go.mod) or newer from https://go.dev/dl/"

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == 'install ok installed' ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	step="apt-get install ${missing[*]}"
	say "installing ${missing[*]}"
	command -v apt-get >/dev/null || fail "missing ${missing[*]}, and no apt-get to install them"
	sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || fail "missing ${missing[*]}; run: sudo apt-get install ${missing[*]}"
		sudo=(sudo -n)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step=preflight
need_pypi() { fail "$1 not found; it comes from PyPI: pip install $2 (the CI image has it)"; }
command -v moto_server >/dev/null || need_pypi moto_server "'moto[server]'"
command -v aws >/dev/null || need_pypi "the aws CLI" awscli
python3 -c 'import boto3' 2>/dev/null || need_pypi "python3 module boto3" boto3
keyctl show @u >/dev/null 2>&1 || fail "the kernel keyring is not usable here (keyctl show @u fails; a container's seccomp profile may block keyctl)"

# --- static checks -----------------------------------------------------------

step="go mod download"
say "downloading Go modules (first run only: the module cache keeps them)"
go mod download

step="go vet"
say "$step"
go vet ./...

step=gofmt
say "$step"
unformatted=$(gofmt -l . | grep -v "^testdata/" || true)
[[ -z $unformatted ]] || fail "not gofmt-formatted (run gofmt -w): $unformatted"

for os in darwin windows; do
	step="GOOS=$os go build and go vet"
	say "$step"
	GOOS=$os go build ./... && GOOS=$os go vet ./...  # vet also type-checks the tests
done

step=staticcheck
say "$step (the first run downloads and builds it)"
go run "$STATICCHECK" ./...

# --- a private world for the tests -------------------------------------------

step="private D-Bus session and gnome-keyring"
say "$step"
# Keep Go's caches and settings, and Python's per-user packages (boto3 may be
# there), when HOME and XDG_* move.
GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE) GOPATH=$(go env GOPATH) GOENV=$(go env GOENV)
PYTHONUSERBASE=$(python3 -m site --user-base)
export GOCACHE GOMODCACHE GOPATH GOENV PYTHONUSERBASE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/broker-test.XXXXXXXX")
start_private_keyring
probe=(service broker-test-sh probe "$$")
printf 'probe-secret' | secret-tool store --label='test.sh probe' "${probe[@]}"
[[ $(secret-tool lookup "${probe[@]}") == probe-secret ]] || fail "secret-tool store/lookup round trip failed"
secret-tool clear "${probe[@]}"
echo "D-Bus session bus $DBUS_SESSION_BUS_ADDRESS; gnome-keyring pid $keyring_pid, login collection unlocked" >&2

# --- tests -------------------------------------------------------------------

export BROKER_REQUIRE_INTEGRATION=1

# go test -json through a small formatter: a line per package as it starts
# and per test as it ends, a failed test's whole output, go test's own ok /
# FAIL lines unchanged, and a "still running" line in quiet spells (the
# first build of the race-enabled test binaries takes minutes on 2 cores).
step="build the test progress formatter"
go build -o "$tmp/testprogress" ./internal/testprogress
step="go test -race"
say "$step"
go test -json -race -count=1 -timeout=8m ./... </dev/null | "$tmp/testprogress" -trim "$(go list -m)/"

# Every func Fuzz* in a _test.go file, found afresh each run.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out on a busy machine (go.dev/issue/75804,
# fixed in Go 1.27). A real failure always writes its input to
# testdata/fuzz/; a deadline failure without one is reported and let pass.
fuzzed=0
while IFS=: read -r -u 3 file name; do
	dir=$(dirname "$file")
	step="fuzz $name in $dir"
	say "$step ($FUZZTIME)"
	if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "./$dir" </dev/null 2>&1 | tee "$tmp/fuzz.log"; then
		if grep -q 'Failing input written to' "$tmp/fuzz.log" || ! grep -q 'context deadline exceeded' "$tmp/fuzz.log"; then
			exit 1
		fi
		echo "test.sh: $name: ignoring Go's fuzz deadline race (go.dev/issue/75804); no failing input was found" >&2
	fi
	fuzzed=$((fuzzed + 1))
done 3< <(grep -rHoE --include='*_test.go' --exclude-dir=vendor --exclude-dir=testdata --exclude-dir=.git \
	'^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's#^\./##; s#:func (Fuzz[A-Za-z0-9_]*)\($#:\1#' | sort)
echo "fuzzed $fuzzed targets for $FUZZTIME each" >&2
