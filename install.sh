#!/usr/bin/env bash
# Builds broker from this checkout with the Go on PATH and installs it.
# Run ./install.sh --help for usage.

set -Eeuo pipefail

usage() {
	cat <<'EOF'
usage: ./install.sh [--prefix DIR]

Builds broker from this checkout with your Go toolchain and installs the
binaries as DIR/bin/broker and DIR/bin/broker-credential-process (the small
client `broker setup` writes into credential_process).

  --prefix DIR   where to install (default: /usr/local if you can write
                 there, else ~/.local)
  -h, --help     show this help

Needs Go at the version in go.mod or newer (https://go.dev/dl/).
EOF
}

fail() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

prefix=
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--prefix)
		(($# >= 2)) || fail "--prefix needs a directory"
		prefix=$2
		shift 2
		;;
	--prefix=*)
		prefix=${1#--prefix=}
		shift
		;;
	*)
		usage >&2
		fail "unknown argument: $1"
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

need=$(awk '$1 == "go" { print $2; exit }' go.mod)
[[ -n $need ]] || fail "no go version in $root/go.mod"
command -v go >/dev/null || fail "go not found on PATH; install Go $need or newer from https://go.dev/dl/"
# The toolchain on this machine, not one go might fetch for this module.
have=$(cd / && GOTOOLCHAIN=local go env GOVERSION) || fail "cannot run go"
have=${have%% *} # "go1.26.8" (a devel build says "devel go1.27-...": accept it)
if [[ $have == go* ]]; then
	oldest=$(printf '%s\n%s\n' "$need" "${have#go}" | sort -V | head -n1)
	[[ $oldest == "$need" ]] || fail "Go $need or newer is needed, found ${have#go} ($(command -v go)); get it from https://go.dev/dl/"
fi

if [[ -z $prefix ]]; then
	if [[ -w /usr/local/bin || (! -e /usr/local/bin && -w /usr/local) ]]; then
		prefix=/usr/local
	else
		prefix=$HOME/.local
	fi
fi
mkdir -p "$prefix/bin" || fail "cannot create $prefix/bin"
bindir=$(cd "$prefix/bin" && pwd)
[[ -w $bindir ]] || fail "cannot write to $bindir; choose another place with --prefix"

version=$(git describe --always --dirty 2>/dev/null || echo dev)
# Build next to the target, then rename: a running broker keeps its old file.
work=$(mktemp -d "$bindir/.broker-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building broker $version with $have" >&2
# urfave_cli_no_docs leaves out the CLI library's man/markdown generators (and
# the markdown parser their init builds); without cgo on Linux the binary is
# static. Both shorten every credential_process call (see scripts/bench.sh).
# macOS keeps cgo: the Keychain backend needs it.
cgo=0
[[ $(go env GOOS) == darwin ]] && cgo=1
CGO_ENABLED=$cgo GOTOOLCHAIN=local go build -trimpath -tags urfave_cli_no_docs -ldflags "-X main.version=$version" -o "$work/broker" ./cmd/broker
# The credential_process client links neither the AWS SDK nor the keychain
# nor the CLI library: it asks the agent and hands over to broker export.
CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -o "$work/broker-credential-process" ./cmd/broker-credential-process
chmod 0755 "$work/broker" "$work/broker-credential-process"
mv -f "$work/broker" "$bindir/broker"
mv -f "$work/broker-credential-process" "$bindir/broker-credential-process"

echo "installed $bindir/broker ($("$bindir/broker" --version 2>/dev/null || echo "version $version")) and $bindir/broker-credential-process"
case ":$PATH:" in
*":$bindir:"*) ;;
*) echo "warning: $bindir is not on your PATH; add it, e.g. in ~/.profile: export PATH=\"$bindir:\$PATH\"" >&2 ;;
esac
