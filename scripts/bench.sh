#!/usr/bin/env bash
# Times the warm `broker export` (a session already in the keychain cache, no
# STS call) against the floor, a minimal Go program printing the same JSON
# document (internal/benchfloor), and against a config of 10,000 profiles.
#
# Targets: the warm call within 2x the floor; 10,000 profiles within 1.3x of
# one. The warm call is timed without the agent (BROKER_AGENT=off: broker
# export reads the keychain) and with it (broker export, and the small
# credential_process client broker-credential-process that `broker setup`
# writes, both answered by the agent from memory). The script says whether each is met; missing one is a finding, not a
# failure: it exits 0 whenever it measured.
#
# Cases, each timed with hyperfine -N (no shell in between) where hyperfine
# is installed, else with internal/benchfloor/timeit (the same: fork, exec,
# wait, no shell), and its peak RSS taken with GNU time (%M, the median of
# several runs):
#   floor             internal/benchfloor
#   broker --version  the broker binary starting and doing nothing
#   warm, 1 profile   broker export dev, the config holding only dev, no agent
#   warm, 10k         broker export dev, dev in the middle of 10,000 profiles, no agent
#   agent, export     broker export dev answered by the agent
#   agent, client     broker-credential-process dev answered by the agent
#   agent, client 10k the same with 10,000 profiles
# in three environments:
#   keyctl          kernel keyring, a D-Bus session bus running (a desktop)
#   keyctl, no bus  kernel keyring, DBUS_SESSION_BUS_ADDRESS=disabled: (a server)
#   secret-service  gnome-keyring on a private D-Bus session bus
# The runs are split into rounds that take every case in turn, so that a
# machine getting busier or quieter meanwhile moves all cases alike.
#
# Everything runs in a private world: a temporary HOME and XDG folders, its
# own D-Bus session bus and gnome-keyring, a unique keychain namespace, and
# moto_server on a random loopback port for the one cold call per backend.
# moto is stopped before timing, so a call that is not warm fails loudly.
#
# Then, by default (about a minute; --no-cold skips it), the cold path, with
# moto_server (recording requests) back on loopback as STS, for keyctl (bus
# up) and secret-service:
#   cold export       broker export dev after `broker clear` (hyperfine
#                     --prepare), mfa_process = echo 123456: one
#                     GetSessionToken to moto
#   bare STS call     its floor, internal/benchfloor/stscall: the same one
#                     GetSessionToken with aws-sdk-go-v2 and static
#                     credentials, printing the same JSON
#   cold - bare       broker's cold overhead: its process start, config,
#                     keychain, lock, MFA process and cache write
#   30 at once        with an empty cache, 30 `broker export dev` started
#                     together, PARALLEL_ROUNDS times: the wall time of a
#                     round, and per round the MFA prompts (mfa_process
#                     counts its runs) and GetSessionToken calls (moto's
#                     recording); 1 and 1 are expected. Each round is
#                     then repeated with the session cached, for what 30
#                     processes starting at once cost here anyway
# printed as a second table, "Cold path".
#
# Usage: scripts/bench.sh [--breakdown] [--rt] [--cold | --no-cold]
#   --breakdown  first report where the warm call's time goes: package init
#                (GODEBUG=inittrace=1), D-Bus method calls (dbus-monitor on
#                the private bus) and syscalls (strace -f -c)
#   --rt         time under SCHED_FIFO (chrt -f 10; needs root): far less
#                noise on a busy machine, at the other processes' expense
#                (with the cold path, moto_server runs under it too)
#   --cold       the cold path only: no warm timing (nor --breakdown)
#   --no-cold    the warm table only
# Environment: RUNS=200 (per case) ROUNDS=4 WARMUP=20 RSS_RUNS=15
#   COLD_RUNS=20 (per cold case, in 2 rounds) PARALLEL=30 PARALLEL_ROUNDS=5
#
# Needs go, python3 and moto_server (PyPI: moto[server]); installs missing
# Debian packages (time gnome-keyring dbus keyutils, and strace with
# --breakdown) with apt-get. The agent it starts (in its private runtime
# folder) is stopped at the end.

set -Eeuo pipefail

RUNS=${RUNS:-200}
ROUNDS=${ROUNDS:-4}
WARMUP=${WARMUP:-20}
RSS_RUNS=${RSS_RUNS:-15}
COLD_RUNS=${COLD_RUNS:-20}
PARALLEL=${PARALLEL:-30}
PARALLEL_ROUNDS=${PARALLEL_ROUNDS:-5}
PROFILES=10000
KEYRING_PASSWORD=broker-bench # gnome-keyring creates no login keyring for ""
DEBIAN_PACKAGES=(time gnome-keyring dbus keyutils) # hyperfine is used when installed

breakdown=0
rt=()
warm=1
cold=1
for arg; do
	case $arg in
	--breakdown) breakdown=1 ;;
	--rt) rt=(chrt -f 10) ;;
	--cold) warm=0 cold=1 ;;
	--no-cold) warm=1 cold=0 ;;
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
((warm)) || breakdown=0
((breakdown)) && DEBIAN_PACKAGES+=(strace)
((RUNS >= ROUNDS && ROUNDS >= 1)) || {
	echo "bench.sh: RUNS ($RUNS) must be at least ROUNDS ($ROUNDS), and ROUNDS at least 1" >&2
	exit 2
}
((COLD_RUNS >= 2 && PARALLEL >= 1 && PARALLEL_ROUNDS >= 1)) || {
	echo "bench.sh: COLD_RUNS ($COLD_RUNS) must be at least 2, PARALLEL and PARALLEL_ROUNDS at least 1" >&2
	exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/private-keyring.sh
. scripts/private-keyring.sh
exec 3>&2 # the caller's stderr, for cleanup

step=preflight
tmp=
dbus_pid=
keyring_pid=
moto_pid=
monitor_pid=
parallel_pids=() # the cold callers of a round still running
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
	kill "$1" 2>/dev/null || return 0
	wait "$1" 2>/dev/null || true
}

cleanup() {
	local code=$?
	set +e
	trap - EXIT INT TERM
	# A signal can land while a command's stderr goes to a log file.
	exec 2>&3
	for pid in "${parallel_pids[@]}"; do stop "$pid"; done
	stop_agent
	stop "$moto_pid"
	stop "$monitor_pid"
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

# stop_agent ends the agent this run started (in its private runtime folder).
stop_agent() {
	[[ -n $tmp && -x $tmp/bin/broker && -n ${XDG_RUNTIME_DIR:-} && $XDG_RUNTIME_DIR == "$tmp"/* ]] || return 0
	local pid
	pid=$("$tmp/bin/broker" agent status 2>/dev/null | sed -n 's/^running: pid \([0-9]*\),.*/\1/p')
	[[ -n $pid ]] || return 0
	"$tmp/bin/broker" agent stop >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
}

# timecmd NAME JSON WARMUP RUNS [--prepare CMD] -- CMD...: times CMD (no
# shell; under --rt's chrt) with hyperfine -N where installed, else with
# timeit; writes hyperfine's JSON either way.
timecmd() {
	local name=$1 json=$2 warmup=$3 runs=$4 prepare=()
	shift 4
	if [[ $1 == --prepare ]]; then
		prepare=("$2")
		shift 2
	fi
	shift # --
	if ((have_hyperfine)); then
		"${rt[@]}" hyperfine -N --style basic --warmup "$warmup" --runs "$runs" ${prepare:+--prepare "${prepare[0]}"} \
			--command-name "$name" --export-json "$json" "$*"
	else
		"${rt[@]}" "$tmp/bin/timeit" -warmup "$warmup" -runs "$runs" ${prepare:+-prepare "${prepare[0]}"} \
			-name "$name" -json "$json" -- "$@"
	fi
}

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
if ((${#rt[@]})); then
	chrt -f 10 true 2>/dev/null || fail "--rt: chrt -f 10 is not allowed here (it needs root or CAP_SYS_NICE)"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1

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
# Built as install.sh builds it.
CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -tags urfave_cli_no_docs -ldflags "-X main.version=bench" -o "$tmp/bin/broker" ./cmd/broker
CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -o "$tmp/bin/broker-credential-process" ./cmd/broker-credential-process
GOTOOLCHAIN=local go build -trimpath -o "$tmp/bin/floor" ./internal/benchfloor
GOTOOLCHAIN=local go build -trimpath -o "$tmp/bin/timeit" ./internal/benchfloor/timeit
GOTOOLCHAIN=local go build -trimpath -o "$tmp/bin/stscall" ./internal/benchfloor/stscall

# --- a private world ---------------------------------------------------------

step="private D-Bus session and gnome-keyring"
start_private_keyring
bus_address=$DBUS_SESSION_BUS_ADDRESS

# start_moto [CMD-PREFIX...]: moto_server on a free loopback port, recording
# every request to $tmp/moto.record, as AWS_ENDPOINT_URL.
start_moto() {
	local port i
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	MOTO_ENABLE_RECORDING=1 MOTO_RECORDER_FILEPATH=$tmp/moto.record \
		"$@" moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 3>&- &
	moto_pid=$!
	for ((i = 0; i < 150; i++)); do
		python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null && break
		kill -0 "$moto_pid" 2>/dev/null || fail "moto_server exited: $(cat "$tmp/moto.log")"
		sleep 0.1
	done
	((i < 150)) || fail "moto_server did not listen on 127.0.0.1:$port within 15s"
	export AWS_ENDPOINT_URL=http://127.0.0.1:$port
}

step=moto_server
start_moto

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
	# The agent only where a case asks for it (BROKER_AGENT=on). Each backend
	# has its own XDG_CONFIG_HOME: broker records the backend a user's keys
	# are in there and refuses another one (README: One keychain).
	DBUS_SESSION_BUS_ADDRESS=$bus BROKER_BACKEND=$(backend_of "$name") BROKER_KEYRING_SERVICE=$service \
		XDG_CONFIG_HOME=$XDG_CONFIG_HOME/$(backend_of "$name") BROKER_AGENT=${BROKER_AGENT:-off} "$@"
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
		# The agent: the first call with it starts it and hands it the
		# keychain's session; from then on it answers from memory.
		for client in "$tmp/bin/broker export" "$tmp/bin/broker-credential-process"; do
			# shellcheck disable=SC2086 # a command and its first argument
			AWS_CONFIG_FILE=$tmp/config-$cfg BROKER_AGENT=on broker_env "$name" $client dev >"$tmp/warm.json" 2>"$tmp/warm.log" ||
				fail "$client dev with the agent ($name, config-$cfg): $(cat "$tmp/warm.log")"
			cmp -s "$tmp/warm.json" "$tmp/cold.$(backend_of "$name").json" ||
				fail "$client dev with the agent ($name, config-$cfg) printed another session than the cold call"
		done
	done
done
"$tmp/bin/broker" agent status >/dev/null || fail "no agent runs after the warm calls"

# --- breakdown (optional) ----------------------------------------------------

# dbus_calls ENVIRONMENT: the D-Bus method calls one warm call makes, as
# "count interface.member" lines, seen by dbus-monitor on the private bus.
dbus_calls() {
	local name=$1
	dbus-monitor --session "type='method_call'" >"$tmp/monitor.log" 2>&1 3>&- &
	monitor_pid=$!
	for ((i = 0; i < 50; i++)); do
		grep -q NameAcquired "$tmp/monitor.log" 2>/dev/null && break
		sleep 0.1
	done
	AWS_CONFIG_FILE=$tmp/config-1 broker_env "$name" "$tmp/bin/broker" export dev >/dev/null
	sleep 0.5
	stop "$monitor_pid"
	monitor_pid=
	sed -nE '/interface=org.freedesktop.DBus.Monitoring;/d; s/^method call .* interface=([^;]+); member=([^ ]+).*/\1.\2/p' \
		"$tmp/monitor.log" | sort | uniq -c | sort -rn
}

if ((breakdown)); then
	step=breakdown
	say "breakdown: package init, D-Bus method calls, syscalls"
	for name in "${envs[@]}"; do
		# Each package's init clock time under GODEBUG=inittrace=1, run by run.
		for ((r = 0; r < 15; r++)); do
			AWS_CONFIG_FILE=$tmp/config-1 GODEBUG=inittrace=1 broker_env "$name" "${rt[@]}" "$tmp/bin/broker" export dev 2>&1 >/dev/null |
				awk -v r="$r" '$1 == "init" { print r, $2, $5 }'
		done >"$tmp/out/$name.inittrace"
		dbus_calls "$name" >"$tmp/out/$name.dbus"
		for cfg in 1 10k; do
			AWS_CONFIG_FILE=$tmp/config-$cfg broker_env "$name" strace -f -c -o "$tmp/out/$name.strace.$cfg" \
				"$tmp/bin/broker" export dev >/dev/null
		done
	done
fi

# --- timing ------------------------------------------------------------------

# hyperfine -N splits its command line on whitespace; $tmp has none.
cases=(floor version warm1 warm10k agent1 client1 client10k)
declare -A config=([floor]=1 [version]=1 [warm1]=1 [warm10k]=10k [agent1]=1 [client1]=1 [client10k]=10k)
declare -A command=(
	[floor]="$tmp/bin/floor"
	[version]="$tmp/bin/broker --version"
	[warm1]="$tmp/bin/broker export dev"
	[warm10k]="$tmp/bin/broker export dev"
	[agent1]="$tmp/bin/broker export dev"
	[client1]="$tmp/bin/broker-credential-process dev"
	[client10k]="$tmp/bin/broker-credential-process dev"
)
declare -A agent=([floor]=off [version]=off [warm1]=off [warm10k]=off [agent1]=on [client1]=on [client10k]=on)

if ((warm)); then
	step=timing
	per_round=$(((RUNS + ROUNDS - 1) / ROUNDS))
	say "timing: ${#envs[@]} environments x ${#cases[@]} cases, $ROUNDS rounds of $per_round runs each${rt:+, under ${rt[*]}}"
	for ((round = 0; round < ROUNDS; round++)); do
		warmup=$((round == 0 ? WARMUP : (WARMUP + 3) / 4))
		for name in "${envs[@]}"; do
			for c in "${cases[@]}"; do
				out=$tmp/out/$name.$c.$round
				read -ra argv <<<"${command[$c]}"
				AWS_CONFIG_FILE=$tmp/config-${config[$c]} BROKER_AGENT=${agent[$c]} broker_env "$name" \
					timecmd "$c" "$out.json" "$warmup" "$per_round" -- "${argv[@]}" >"$out.log" 2>&1 ||
					fail "timing $c ($name): $(tail -5 "$out.log")"
			done
		done
	done

	step="peak RSS"
	for name in "${envs[@]}"; do
		for c in "${cases[@]}"; do
			read -ra argv <<<"${command[$c]}"
			for ((r = 0; r < RSS_RUNS; r++)); do
				AWS_CONFIG_FILE=$tmp/config-${config[$c]} BROKER_AGENT=${agent[$c]} broker_env "$name" \
					/usr/bin/time -f %M -a -o "$tmp/out/$name.$c.rss" "${argv[@]}" >/dev/null 2>&1 ||
					fail "measuring the peak RSS of $c ($name)"
			done
		done
	done
fi

# --- cold path (default; --no-cold skips it) ---------------------------------

cold_envs=(keyctl secret-service)

# gst_count: the GetSessionToken calls in moto's recording so far. moto
# writes a request's line before it answers it.
gst_count() {
	python3 - "$tmp/moto.record" <<'PY'
import base64, json, os, sys
n = 0
if os.path.exists(sys.argv[1]):
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            body = e.get("body") or ""
            if e.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            n += "Action=GetSessionToken" in body or "Action=GetSessionToken" in e.get("url", "")
print(n)
PY
}

if ((cold)); then
	step="cold path: moto_server"
	say "cold path: moto_server back on loopback${rt:+, under ${rt[*]}}"
	rm -f "$tmp/moto.record"
	start_moto "${rt[@]}"
	stsenv=(env AWS_ACCESS_KEY_ID=AKIAIOSFODNN7BENCH01 AWS_SECRET_ACCESS_KEY=bench/secret/not/a/real/key/0123456789ab)
	"${stsenv[@]}" "$tmp/bin/stscall" >"$tmp/stscall.json" 2>"$tmp/stscall.log" ||
		fail "stscall: $(cat "$tmp/stscall.log")"

	# mfa_process for the parallel rounds: counts its runs, then answers.
	printf '#!/bin/sh\necho prompt >>%s\necho 123456\n' "$tmp/mfa.count" >"$tmp/bin/mfa"
	chmod +x "$tmp/bin/mfa"
	sed "s|^mfa_process = .*|mfa_process = $tmp/bin/mfa|" "$tmp/config-1" >"$tmp/config-count"

	step="cold path: timing"
	cold_per_round=$(((COLD_RUNS + 1) / 2))
	say "cold path: ${#cold_envs[@]} environments x 2 cases, 2 rounds of $cold_per_round runs each"
	for ((round = 0; round < 2; round++)); do
		for name in "${cold_envs[@]}"; do
			out=$tmp/out/cold.$name.cold.$round
			AWS_CONFIG_FILE=$tmp/config-1 broker_env "$name" \
				timecmd cold "$out.json" 2 "$cold_per_round" --prepare "$tmp/bin/broker clear" -- \
				"$tmp/bin/broker" export dev >"$out.log" 2>&1 ||
				fail "timing cold ($name): $(tail -5 "$out.log")"
			out=$tmp/out/cold.$name.bare.$round
			AWS_ACCESS_KEY_ID=${stsenv[1]#*=} AWS_SECRET_ACCESS_KEY=${stsenv[2]#*=} \
				timecmd bare "$out.json" 2 "$cold_per_round" -- "$tmp/bin/stscall" >"$out.log" 2>&1 ||
				fail "timing the bare STS call: $(tail -5 "$out.log")"
		done
	done

	step="cold path: $PARALLEL at once"
	say "cold path: $PARALLEL cold callers at once, $PARALLEL_ROUNDS rounds per environment"
	for name in "${cold_envs[@]}"; do
		for ((round = 0; round < PARALLEL_ROUNDS; round++)); do
			AWS_CONFIG_FILE=$tmp/config-count broker_env "$name" "$tmp/bin/broker" clear >/dev/null 2>&1 ||
				fail "broker clear ($name)"
			: >"$tmp/mfa.count"
			before=$(gst_count)
			rm -rf "$tmp/par"
			mkdir "$tmp/par"
			parallel_pids=()
			cold_start=$EPOCHREALTIME
			for ((i = 0; i < PARALLEL; i++)); do
				AWS_CONFIG_FILE=$tmp/config-count broker_env "$name" "${rt[@]}" "$tmp/bin/broker" export dev \
					>"$tmp/par/$i.json" 2>"$tmp/par/$i.log" 3>&- &
				parallel_pids+=("$!")
			done
			failed=0
			for pid in "${parallel_pids[@]}"; do
				wait "$pid" || failed=$((failed + 1))
			done
			end=$EPOCHREALTIME
			parallel_pids=()
			after=$(gst_count)
			prompts=$(wc -l <"$tmp/mfa.count")
			sessions=$(cat "$tmp/par"/*.json | sort -u | wc -l)
			((failed == 0)) || say "warning: $failed of $PARALLEL cold callers failed ($name), e.g.: $(cat "$tmp/par"/*.log | head -3)"
			# The same again with the session now cached: process start on a
			# busy machine, no STS call and no MFA prompt.
			start=$EPOCHREALTIME
			for ((i = 0; i < PARALLEL; i++)); do
				AWS_CONFIG_FILE=$tmp/config-count broker_env "$name" "${rt[@]}" "$tmp/bin/broker" export dev \
					>/dev/null 2>&1 3>&- &
				parallel_pids+=("$!")
			done
			for pid in "${parallel_pids[@]}"; do
				wait "$pid" || fail "a warm caller of $PARALLEL at once failed ($name)"
			done
			end_warm=$EPOCHREALTIME
			parallel_pids=()
			printf '%s %d %s %s %d %d %d %d %s %s\n' "$name" "$round" "$cold_start" "$end" "$prompts" "$((after - before))" \
				"$failed" "$sessions" "$start" "$end_warm" >>"$tmp/out/parallel"
		done
	done
	stop "$moto_pid"
	moto_pid=
fi

# --- report ------------------------------------------------------------------

step=report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
machine="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), $(go version | awk '{ print $3, $4 }'), $( ((have_hyperfine)) && echo "hyperfine $(hyperfine --version | awk '{ print $2 }')" || echo "timed with internal/benchfloor/timeit (no hyperfine installed)"); load average $load_before before, $load_after after${rt:+; timed under ${rt[*]}}"
if ((warm)); then
	python3 - "$tmp/out" "$machine" "$RUNS" "$ROUNDS" "$WARMUP" "$PROFILES" "$breakdown" "${envs[@]}" <<'PY'
import glob, json, os, statistics, sys

out, machine, runs, rounds, warmup, profiles, breakdown, *envs = sys.argv[1:]
profiles = int(profiles)
CASES = [
    ("floor", "floor (internal/benchfloor)"),
    ("version", "broker --version"),
    ("warm1", "warm export, 1 profile"),
    ("warm10k", f"warm export, {profiles:,} profiles"),
    ("agent1", "agent: broker export"),
    ("client1", "agent: broker-credential-process"),
    ("client10k", f"agent: broker-credential-process, {profiles:,} profiles"),
]
LABEL = {"keyctl": "keyctl", "keyctl-nobus": "keyctl, no session bus", "secret-service": "secret-service"}


def median_of_runs(path, top):
    """Per-package median over runs of inittrace clock times."""
    per, totals = {}, {}
    with open(path) as f:
        for line in f:
            run, pkg, t = line.split()
            per.setdefault(pkg, []).append(float(t))
            totals[run] = totals.get(run, 0) + float(t)
    ranked = sorted(((statistics.median(v), p) for p, v in per.items()), reverse=True)
    return statistics.median(totals.values()), len(per), ranked[:top]


def strace_summary(path):
    calls, total = [], "?"
    with open(path) as f:
        for line in f:
            fields = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(fields) >= 5 and fields[3].isdigit():
                if fields[-1] == "total":
                    total = fields[3]
                else:
                    calls.append((int(fields[3]), fields[-1]))
    calls.sort(reverse=True)
    return total, calls


if breakdown == "1":
    print("### Where the warm call's time goes\n")
    for env in envs:
        print(f"#### {LABEL[env]}\n")
        total, n, top = median_of_runs(os.path.join(out, f"{env}.inittrace"), 8)
        print(f"Package init (GODEBUG=inittrace=1, medians of 15 runs): {total:.2f} ms over {n} packages; the costliest:\n")
        print("| package | init (ms) |\n|---|---|")
        for t, pkg in top:
            print(f"| {pkg} | {t:.2f} |")
        with open(os.path.join(out, f"{env}.dbus")) as f:
            dbus = [l.split() for l in f if l.strip()]
        n = sum(int(c) for c, _ in dbus)
        print(f"\nD-Bus method calls, each a round trip: {n}" + (": " + ", ".join(f"{m} x{c}" for c, m in dbus) if dbus else ""))
        for cfg, title in (("1", "1 profile"), ("10k", f"{profiles:,} profiles")):
            total, calls = strace_summary(os.path.join(out, f"{env}.strace.{cfg}"))
            print(f"\nSyscalls, {title} (strace -f -c): {total}; most made: " + ", ".join(f"{s} {c}" for c, s in calls[:8]))
        print()


def load(env, case):
    times, user, system = [], 0.0, 0.0
    for path in sorted(glob.glob(os.path.join(out, f"{env}.{case}.*.json"))):
        with open(path) as f:
            r = json.load(f)["results"][0]
        times += r["times"]
        user += r["user"] * len(r["times"])
        system += r["system"] * len(r["times"])
    with open(os.path.join(out, f"{env}.{case}.rss")) as f:
        rss = [int(l) for l in f if l.strip().isdigit()]
    return {
        "mean": statistics.fmean(times), "sd": statistics.stdev(times), "median": statistics.median(times),
        "cpu": (user + system) / len(times), "rss": statistics.median(rss), "n": len(times),
    }


def ms(s):
    return f"{s * 1e3:.2f}"


data = {env: {case: load(env, case) for case, _ in CASES} for env in envs}
runs = min(x["n"] for r in data.values() for x in r.values())
print(f"### Warm `broker export`\n")
print(f"{runs} runs per case in {rounds} rounds taking every case in turn, {warmup} warm-up runs first; "
      "CPU is user + system time; max RSS is the median of GNU time's %M over repeated runs.\n")
print("| keychain | case | mean ± σ (ms) | median (ms) | × floor | 10k / 1 | CPU (ms) | CPU × floor | max RSS (MiB) |")
print("|---|---|---|---|---|---|---|---|---|")
verdicts = []
for env in envs:
    r = data[env]
    floor = r["floor"]
    for case, title in CASES:
        x = r[case]
        tenk = {"warm10k": f"{x['mean'] / r['warm1']['mean']:.2f}",
                "client10k": f"{x['mean'] / r['client1']['mean']:.2f}"}.get(case, "")
        print(f"| {LABEL[env]} | {title} | {ms(x['mean'])} ± {ms(x['sd'])} | {ms(x['median'])} | "
              f"{x['mean'] / floor['mean']:.2f} | {tenk} | {ms(x['cpu'])} | {x['cpu'] / floor['cpu']:.2f} | {x['rss'] / 1024:.1f} |")
    w1 = r["warm1"]["mean"] / floor["mean"]
    w10k = r["warm10k"]["mean"] / r["warm1"]["mean"]
    verdicts.append(f"- {LABEL[env]}: the warm call takes {w1:.2f}x the floor (target: within 2x): "
                    + ("met" if w1 <= 2 else "NOT met"))
    verdicts.append(f"- {LABEL[env]}: {profiles:,} profiles take {w10k:.2f}x one profile (target: within 1.3x): "
                    + ("met" if w10k <= 1.3 else "NOT met"))
    c1 = r["client1"]["mean"] / floor["mean"]
    a1 = r["agent1"]["mean"] / floor["mean"]
    verdicts.append(f"- {LABEL[env]}: with the agent, broker-credential-process takes {c1:.2f}x the floor "
                    f"(broker export {a1:.2f}x; target: within 2x): " + ("met" if c1 <= 2 else "NOT met"))
print(f"\nMachine: {machine}.\n")
print("Targets (means):")
print("\n".join(verdicts))
PY
fi
if ((cold)); then
	((warm)) && echo
	python3 - "$tmp/out" "$machine" "$COLD_RUNS" "$PARALLEL" "${cold_envs[@]}" <<'PY'
import glob, json, os, statistics, sys

out, machine, runs, parallel, *envs = sys.argv[1:]
LABEL = {"keyctl": "keyctl", "keyctl-nobus": "keyctl, no session bus", "secret-service": "secret-service"}


def times(env, case):
    t = []
    for path in sorted(glob.glob(os.path.join(out, f"cold.{env}.{case}.*.json"))):
        with open(path) as f:
            t += json.load(f)["results"][0]["times"]
    return t


rounds = {}
with open(os.path.join(out, "parallel")) as f:
    for line in f:
        env, _, start, end, prompts, gst, failed, sessions, wstart, wend = line.split()
        rounds.setdefault(env, []).append((float(end) - float(start), int(prompts), int(gst), int(failed), int(sessions),
                                           float(wend) - float(wstart)))

n = min(len(times(e, c)) for e in envs for c in ("cold", "bare"))
print("### Cold path\n")
print(f"Cold export: `broker export dev` after `broker clear` (hyperfine -N --prepare), mfa_process = echo 123456, "
      f"moto_server on loopback as STS; bare STS call: one GetSessionToken with aws-sdk-go-v2 to the same moto "
      f"(internal/benchfloor/stscall). {n} runs per case in 2 rounds, 2 warm-up runs each. "
      f"{parallel} at once: {parallel} cold `broker export dev` started together on an empty cache; "
      "wall time from the first start to the last exit; then the same with the session cached.\n")
print("| keychain | cold export mean ± σ (ms) | bare STS call mean ± σ (ms) | cold − bare (ms) | "
      f"{parallel} at once, cold: wall per round, mean (min–max) (ms) | {parallel} at once, cached (ms) | MFA prompts per round | GetSessionToken per round | failed callers | distinct sessions |")
print("|---|---|---|---|---|---|---|---|---|---|")
notes = []
for env in envs:
    c, b = times(env, "cold"), times(env, "bare")
    r = rounds.get(env, [])
    wall = statistics.fmean(x[0] for x in r)
    wall_range = f" ({min(x[0] for x in r) * 1e3:.0f}–{max(x[0] for x in r) * 1e3:.0f})" if len(r) > 1 else ""
    col = lambda i: ", ".join(str(x[i]) for x in r)
    print(f"| {LABEL[env]} | {statistics.fmean(c) * 1e3:.1f} ± {statistics.stdev(c) * 1e3:.1f} | "
          f"{statistics.fmean(b) * 1e3:.1f} ± {statistics.stdev(b) * 1e3:.1f} | "
          f"{(statistics.fmean(c) - statistics.fmean(b)) * 1e3:.1f} | {wall * 1e3:.0f}{wall_range} | "
          f"{statistics.fmean(x[5] for x in r) * 1e3:.0f} | "
          f"{col(1)} | {col(2)} | {col(3)} | {col(4)} |")
    if any(x[1] != 1 or x[2] != 1 or x[3] or x[4] != 1 for x in r):
        notes.append(f"- {LABEL[env]}: NOT one MFA prompt, one GetSessionToken and one session for all callers in every round")
    else:
        notes.append(f"- {LABEL[env]}: one MFA prompt, one GetSessionToken and one session shared by all {parallel} callers, every round")
print(f"\nMachine: {machine}.\n")
print("\n".join(notes))
PY
fi
