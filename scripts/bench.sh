#!/usr/bin/env bash
# Times the warm `broker export` (a session already in the keychain cache, no
# STS call) against the floor, a minimal Go program printing the same JSON
# document (internal/benchfloor), and against a config of 10,000 profiles.
#
# Targets: the warm call within 2x the floor; 10,000 profiles within 1.3x of
# one. The script reports whether each is met; missing one is a finding, not
# a failure: it exits 0 whenever it measured.
#
# For each environment below it times, with hyperfine (no shell in between):
#   floor             internal/benchfloor
#   broker --version  the broker binary starting and doing nothing
#   warm, 1 profile   broker export dev, config holding only dev
#   warm, 10k         broker export dev, dev in the middle of 10,000 profiles
# and the peak RSS of each (GNU time's %M, the median of several runs).
#
# Environments:
#   keyctl          kernel keyring, with a D-Bus session bus running (a desktop)
#   keyctl, no bus  kernel keyring, DBUS_SESSION_BUS_ADDRESS=disabled: (a server)
#   secret-service  gnome-keyring on a private D-Bus session bus
#
# Everything runs in a private world: a temporary HOME and XDG folders, its
# own D-Bus session bus and gnome-keyring, a unique keychain namespace, and
# moto_server on a random loopback port for the one cold call per backend.
# moto is stopped before timing, so a call that is not warm fails loudly.
#
# Usage: scripts/bench.sh [--breakdown]
#   --breakdown  also report where the warm call's time goes: package init
#                costs (GODEBUG=inittrace=1), syscalls and D-Bus messages
#                (strace), for each environment
# Environment: RUNS=200 WARMUP=20 RSS_RUNS=21
#
# Needs go, python3 and moto_server (PyPI: moto[server]); installs the missing
# Debian packages (hyperfine time gnome-keyring dbus keyutils; strace with
# --breakdown) with apt-get.

set -Eeuo pipefail

RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
RSS_RUNS=${RSS_RUNS:-21}
PROFILES=10000
KEYRING_PASSWORD=broker-bench # gnome-keyring creates no login keyring for ""
DEBIAN_PACKAGES=(hyperfine time gnome-keyring dbus keyutils)

breakdown=0
for arg; do
	case $arg in
	--breakdown) breakdown=1 ;;
	-h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		printf 'bench.sh: unknown argument %q (try --help)\n' "$arg" >&2
		exit 2
		;;
	esac
done
((breakdown)) && DEBIAN_PACKAGES+=(strace)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step=preflight
tmp=
dbus_pid=
keyring_pid=
moto_pid=
bus_address=
service=broker-bench-$$-$RANDOM # the keychain namespace of this run
stored=()                       # backends holding items of $service

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench.sh: %s\n' "$*" >&2
	exit 1
}

# stop ends one process this script started, by PID.
stop() {
	[[ -n $1 ]] || return 0
	kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	local code=$?
	set +e
	trap - EXIT INT TERM
	stop "$moto_pid"
	# Items first, while the keyring daemon still answers.
	for backend in "${stored[@]}"; do
		broker_env "$backend" "$tmp/bin/broker" remove --yes dev >/dev/null 2>&1
		broker_env "$backend" "$tmp/bin/broker" clear >/dev/null 2>&1
		if [[ $backend == keyctl ]]; then
			# keyring made a named keyring for the namespace in @u.
			id=$(keyctl search @u keyring "$service" 2>/dev/null) && keyctl unlink "$id" @u >/dev/null 2>&1
		fi
	done
	stop "$keyring_pid"
	stop "$dbus_pid"
	[[ -n $tmp ]] && rm -rf "$tmp"
	((code == 0)) || printf 'bench.sh: %s failed (exit %d)\n' "$step" "$code" >&2
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -------------------------------------------------------------------

command -v go >/dev/null || fail "go not found on PATH"
command -v python3 >/dev/null || fail "python3 not found on PATH"
command -v moto_server >/dev/null || fail "moto_server not found; it comes from PyPI: pip install 'moto[server]'"

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
keyctl show @u >/dev/null 2>&1 || fail "the kernel keyring is not usable here (keyctl show @u fails)"

# --- build -------------------------------------------------------------------

step=build
GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE) GOPATH=$(go env GOPATH) GOENV=$(go env GOENV)
export GOCACHE GOMODCACHE GOPATH GOENV
tmp=$(mktemp -d "${TMPDIR:-/tmp}/broker-bench.XXXXXXXX")
# hyperfine -N splits its command on whitespace.
[[ $tmp != *[[:space:]]* ]] || fail "the temporary folder $tmp has a space in its path; set TMPDIR"
mkdir -p "$tmp"/{bin,home,run,data,config,cache,state,out}
chmod 700 "$tmp/run"
say "building broker and the floor (-trimpath, as install.sh does)"
GOTOOLCHAIN=local go build -trimpath -ldflags "-X main.version=bench" -o "$tmp/bin/broker" ./cmd/broker
GOTOOLCHAIN=local go build -trimpath -o "$tmp/bin/floor" ./internal/benchfloor

# --- a private world ---------------------------------------------------------

step="private D-Bus session and gnome-keyring"
export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run XDG_DATA_HOME=$tmp/data \
	XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache XDG_STATE_HOME=$tmp/state
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DISPLAY WAYLAND_DISPLAY
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(AWS_|BROKER_)' || true)

# A session bus with no service directories: nothing starts on demand.
cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$XDG_RUNTIME_DIR/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=1 >"$tmp/bus.address" 2>"$tmp/bus.log" &
dbus_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $tmp/bus.address ]] && break
	kill -0 "$dbus_pid" 2>/dev/null || fail "dbus-daemon exited: $(cat "$tmp/bus.log")"
	sleep 0.1
done
read -r bus_address <"$tmp/bus.address" || fail "dbus-daemon printed no address within 10s"
export DBUS_SESSION_BUS_ADDRESS=$bus_address

printf '%s' "$KEYRING_PASSWORD" >"$tmp/keyring-password"
gnome-keyring-daemon --foreground --unlock --components=secrets \
	<"$tmp/keyring-password" >"$tmp/keyring.log" 2>&1 &
keyring_pid=$!
bus() { dbus-send --session --print-reply=literal --reply-timeout=2000 "$@" 2>/dev/null; }
for ((i = 0; i < 100; i++)); do
	[[ $(bus --dest=org.freedesktop.secrets /org/freedesktop/secrets/collection/login \
		org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked) == *false* ]] && break
	kill -0 "$keyring_pid" 2>/dev/null || fail "gnome-keyring-daemon exited: $(cat "$tmp/keyring.log")"
	sleep 0.1
done
((i < 100)) || fail "no unlocked login collection on the private bus after 10s"

step=moto_server
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
for ((i = 0; i < 150; i++)); do
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null && break
	kill -0 "$moto_pid" 2>/dev/null || fail "moto_server exited: $(cat "$tmp/moto.log")"
	sleep 0.1
done
((i < 150)) || fail "moto_server did not listen on 127.0.0.1:$port within 15s"
export AWS_ENDPOINT_URL=http://127.0.0.1:$port

# --- configs -----------------------------------------------------------------

step=configs
dev_profile='[profile dev]
region = eu-west-1
mfa_serial = arn:aws:iam::123456789012:mfa/bench
mfa_process = echo 123456
'
printf '%s' "$dev_profile" >"$tmp/config-1"

# 10,000 profiles, dev in the middle. The others look like a large
# organisation's: per account a base profile with a region and an MFA device,
# then role profiles sourcing it, some as `broker setup` leaves them.
awk -v n="$PROFILES" -v dev="$dev_profile" 'BEGIN {
	printf "[default]\nregion = us-east-1\noutput = json\n\n"
	for (i = 0; i < n - 2; i++) { # with [default] and dev: n sections
		if (i == int(n / 2)) printf "%s\n", dev
		acct = sprintf("%012d", 100000000000 + int(i / 10))
		if (i % 10 == 0) {
			printf "[profile acct-%d]\nregion = eu-central-1\nmfa_serial = arn:aws:iam::%s:mfa/user-%d\noutput = json\n\n", i / 10, acct, i
		} else if (i % 3 == 0) {
			printf "[profile acct-%d-role-%d]\ncredential_process = /usr/local/bin/broker export acct-%d-role-%d\nbroker_source_profile = acct-%d\nbroker_role_arn = arn:aws:iam::%s:role/deploy-%d\nregion = us-west-2\nbroker_duration_seconds = 3600\n\n", int(i / 10), i, int(i / 10), i, int(i / 10), acct, i
		} else {
			printf "[profile acct-%d-role-%d]\nsource_profile = acct-%d\nrole_arn = arn:aws:iam::%s:role/readonly-%d\nregion = ap-southeast-2\nrole_session_name = bench\nexternal_id = ext-%d\n\n", int(i / 10), i, int(i / 10), acct, i, i
		}
	}
}' >"$tmp/config-10k"
count=$(grep -c '^\[' "$tmp/config-10k")
((count == PROFILES)) || fail "config-10k has $count profiles, not $PROFILES"

# --- environments --------------------------------------------------------------

envs=(keyctl keyctl-nobus secret-service)
backend_of() { [[ $1 == keyctl-nobus ]] && echo keyctl || echo "$1"; }

# broker_env ENVIRONMENT CMD...: runs CMD with that environment's variables.
broker_env() {
	local name=$1 bus=$bus_address
	shift
	[[ $name == keyctl-nobus ]] && bus=disabled:
	DBUS_SESSION_BUS_ADDRESS=$bus BROKER_BACKEND=$(backend_of "$name") BROKER_KEYRING_SERVICE=$service "$@"
}

# One cold call per backend mints the session; it is cached under a key
# that does not depend on the config file, so both configs then find it.
step="storing a key and minting a session (cold calls)"
say "$step"
for backend in keyctl secret-service; do
	stored+=("$backend")
	AWS_ACCESS_KEY_ID=AKIAIOSFODNN7BENCH01 AWS_SECRET_ACCESS_KEY=bench/secret/not/a/real/key/0123456789ab \
		broker_env "$backend" "$tmp/bin/broker" add --env dev >/dev/null 2>"$tmp/add.log" ||
		fail "broker add --env dev ($backend): $(cat "$tmp/add.log")"
	AWS_CONFIG_FILE=$tmp/config-1 broker_env "$backend" "$tmp/bin/broker" export dev >"$tmp/cold.$backend.json" 2>"$tmp/cold.log" ||
		fail "cold broker export dev ($backend): $(cat "$tmp/cold.log")"
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["Version"] == 1 and d["SessionToken"] and d["AccessKeyId"] != "AKIAIOSFODNN7BENCH01"' "$tmp/cold.$backend.json" ||
		fail "cold broker export dev ($backend) printed no session"
done
# From here on no call may reach STS: a call that is not warm fails.
stop "$moto_pid"
moto_pid=

for name in "${envs[@]}"; do
	for cfg in 1 10k; do
		AWS_CONFIG_FILE=$tmp/config-$cfg broker_env "$name" "$tmp/bin/broker" export dev >"$tmp/warm.json" 2>"$tmp/warm.log" ||
			fail "warm broker export dev ($name, config-$cfg): $(cat "$tmp/warm.log")"
		cmp -s "$tmp/warm.json" "$tmp/cold.$(backend_of "$name").json" ||
			fail "warm broker export dev ($name, config-$cfg) printed another session than the cold call"
	done
done

# --- timing ------------------------------------------------------------------

# measure ENVIRONMENT CASE CONFIG CMD...: hyperfine and peak RSS of CMD.
measure() {
	local name=$1 case=$2 cfg=$3 out=$tmp/out/$1.$2
	shift 3
	AWS_CONFIG_FILE=$tmp/config-$cfg broker_env "$name" \
		hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" \
		--command-name "$case" --export-json "$out.json" "$*" >"$out.log" 2>&1 ||
		fail "hyperfine $case ($name): $(tail -5 "$out.log")"
	: >"$out.rss"
	for ((r = 0; r < RSS_RUNS; r++)); do
		AWS_CONFIG_FILE=$tmp/config-$cfg broker_env "$name" \
			/usr/bin/time -f %M -a -o "$out.rss" "$@" >/dev/null 2>&1 ||
			fail "measuring the peak RSS of $case ($name)"
	done
}

step=timing
for name in "${envs[@]}"; do
	say "timing $name: $RUNS runs after $WARMUP warm-up runs per case"
	measure "$name" floor 1 "$tmp/bin/floor"
	measure "$name" version 1 "$tmp/bin/broker" --version
	measure "$name" warm1 1 "$tmp/bin/broker" export dev
	measure "$name" warm10k 10k "$tmp/bin/broker" export dev
done

# --- breakdown (optional) ----------------------------------------------------

if ((breakdown)); then
	step=breakdown
	say "breakdown: package init, syscalls, D-Bus messages"
	for name in "${envs[@]}"; do
		# Package init: the median over several runs of each package's
		# GODEBUG=inittrace=1 clock time.
		for ((r = 0; r < 15; r++)); do
			AWS_CONFIG_FILE=$tmp/config-1 GODEBUG=inittrace=1 broker_env "$name" "$tmp/bin/broker" export dev 2>&1 >/dev/null |
				awk -v r="$r" '$1 == "init" { print r, $2, $5 }'
		done >"$tmp/out/$name.inittrace"
		# Syscalls of one warm call, all threads.
		AWS_CONFIG_FILE=$tmp/config-1 broker_env "$name" strace -f -c -o "$tmp/out/$name.strace-c" \
			"$tmp/bin/broker" export dev >/dev/null
		AWS_CONFIG_FILE=$tmp/config-10k broker_env "$name" strace -f -c -o "$tmp/out/$name.strace-c-10k" \
			"$tmp/bin/broker" export dev >/dev/null
		# D-Bus: messages written and read on the bus socket.
		AWS_CONFIG_FILE=$tmp/config-1 broker_env "$name" strace -f -e trace=connect,sendmsg,write,recvmsg,read \
			-e signal=none -o "$tmp/out/$name.strace-io" "$tmp/bin/broker" export dev >/dev/null
	done
fi

# --- report ------------------------------------------------------------------

step=report
machine="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), $(go version | awk '{ print $3, $4 }'), hyperfine $(hyperfine --version | awk '{ print $2 }')"
python3 - "$tmp/out" "$machine" "$RUNS" "$WARMUP" "$PROFILES" "$breakdown" "${envs[@]}" <<'PY'
import json, os, re, statistics, sys

out, machine, runs, warmup, profiles, breakdown, *envs = sys.argv[1:]
profiles = int(profiles)
CASES = [
    ("floor", "floor (internal/benchfloor)"),
    ("version", "broker --version"),
    ("warm1", "warm export, 1 profile"),
    ("warm10k", f"warm export, {profiles:,} profiles"),
]
LABEL = {"keyctl": "keyctl", "keyctl-nobus": "keyctl, no session bus", "secret-service": "secret-service"}


def load(env, case):
    with open(os.path.join(out, f"{env}.{case}.json")) as f:
        r = json.load(f)["results"][0]
    with open(os.path.join(out, f"{env}.{case}.rss")) as f:
        rss = [int(l) for l in f if l.strip().isdigit()]
    return r["mean"], r["stddev"], r["median"], statistics.median(rss)


def ms(s):
    return f"{s * 1e3:.2f}"


print(f"### Warm `broker export` ({runs} runs after {warmup} warm-up runs, hyperfine -N)\n")
print("| keychain | case | mean ± σ (ms) | median (ms) | × floor | 10k / 1 | max RSS (MiB) |")
print("|---|---|---|---|---|---|---|")
verdicts = []
for env in envs:
    r = {case: load(env, case) for case, _ in CASES}
    floor = r["floor"][0]
    for case, title in CASES:
        mean, sd, median, rss = r[case]
        ratio = "1.00" if case == "floor" else f"{mean / floor:.2f}"
        tenk = f"{mean / r['warm1'][0]:.2f}" if case == "warm10k" else ""
        print(f"| {LABEL[env]} | {title} | {ms(mean)} ± {ms(sd)} | {ms(median)} | {ratio} | {tenk} | {rss / 1024:.1f} |")
    w1, w10k = r["warm1"][0] / floor, r["warm10k"][0] / r["warm1"][0]
    verdicts.append(f"- {LABEL[env]}: warm call {w1:.2f}x the floor (target 2x): "
                    + ("met" if w1 <= 2 else "NOT met"))
    verdicts.append(f"- {LABEL[env]}: {profiles:,} profiles {w10k:.2f}x one profile (target 1.3x): "
                    + ("met" if w10k <= 1.3 else "NOT met"))
print(f"\nMachine: {machine}.")
print("Max RSS: median over repeated runs of GNU time's %M.\n")
print("Targets:")
print("\n".join(verdicts))

if breakdown != "1":
    sys.exit(0)

print("\n### Breakdown\n")
for env in envs:
    print(f"#### {LABEL[env]}\n")
    # init: per package, median over runs of its clock ms
    per = {}
    with open(os.path.join(out, f"{env}.inittrace")) as f:
        for line in f:
            run, pkg, t = line.split()
            per.setdefault(pkg, []).append(float(t))
    med = sorted(((statistics.median(v), p) for p, v in per.items()), reverse=True)
    total = sum(m for m, _ in med)
    print(f"Package init (GODEBUG=inittrace=1, median of runs): {total:.2f} ms in {len(med)} packages; the costliest:\n")
    print("| package | init (ms) |\n|---|---|")
    for m, p in med[:8]:
        print(f"| {p} | {m:.3f} |")
    for suffix, title in (("", "1 profile"), ("-10k", f"{profiles:,} profiles")):
        with open(os.path.join(out, f"{env}.strace-c{suffix}")) as f:
            lines = f.read().splitlines()
        tot = next((l for l in lines if l.rstrip().endswith("total")), "")
        fields = tot.split()
        calls = fields[2] if len(fields) >= 4 else "?"
        top = []
        for l in lines:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", l)
            if m and m.group(2) != "total":
                top.append((int(m.group(1)), m.group(2)))
        top.sort(reverse=True)
        print(f"\nSyscalls, {title} (strace -f -c): {calls} in all; most made: "
              + ", ".join(f"{n} {c}" for c, n in top[:8]))
    # D-Bus traffic: the fds connected to the bus socket, and the messages on them.
    with open(os.path.join(out, f"{env}.strace-io")) as f:
        io = f.read().splitlines()
    fds = set()
    sends = recvs = 0
    for l in io:
        m = re.search(r"connect\((\d+), \{sa_family=AF_UNIX, sun_path=\"[^\"]*bus\"", l)
        if m and " = 0" in l:
            fds.add(m.group(1))
        m = re.search(r"\b(sendmsg|write|recvmsg|read)\((\d+),", l)
        if m and m.group(2) in fds and not re.search(r"= -1 EAGAIN", l):
            if m.group(1) in ("sendmsg", "write"):
                sends += 1
            else:
                recvs += 1
    print(f"\nD-Bus: {len(fds)} connection(s) to the session bus; {sends} writes and {recvs} successful reads on them.\n")
PY
