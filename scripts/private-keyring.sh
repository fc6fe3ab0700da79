# shellcheck shell=bash disable=SC2154 # tmp, KEYRING_PASSWORD and fail come from the sourcing script
# Sourced by test.sh and bench.sh: a private world for broker to run in.
#
# start_private_keyring moves HOME and the XDG folders into $tmp, clears the
# caller's AWS_* and BROKER_* variables, starts a D-Bus session bus with no
# service directories (nothing starts on demand, so every client talks to the
# keyring below and no other) and gnome-keyring with an unlocked "login"
# collection, and exports DBUS_SESSION_BUS_ADDRESS. It sets dbus_pid and
# keyring_pid for the caller's cleanup, and calls the caller's fail on error.
# Needs: $tmp, $KEYRING_PASSWORD (non-empty: gnome-keyring makes no login
# keyring for ""), and a fail function. Children close fd 3, which bench.sh
# keeps for its cleanup messages.
start_private_keyring() {
	mkdir -p "$tmp"/{home,run,data,config,cache,state}
	chmod 700 "$tmp/run"
	export HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run XDG_DATA_HOME=$tmp/data \
		XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache XDG_STATE_HOME=$tmp/state
	unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DISPLAY WAYLAND_DISPLAY
	local v i
	while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(AWS_|BROKER_)' || true)

	cat >"$tmp/bus.conf" <<CONF
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
CONF
	# Not --fork: as a child of the script it is reaped there, not left a zombie.
	dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=1 \
		>"$tmp/bus.address" 2>"$tmp/bus.log" 3>&- &
	dbus_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s $tmp/bus.address ]] && break
		kill -0 "$dbus_pid" 2>/dev/null || fail "dbus-daemon exited: $(cat "$tmp/bus.log")"
		sleep 0.1
	done
	read -r DBUS_SESSION_BUS_ADDRESS <"$tmp/bus.address" || fail "dbus-daemon printed no address within 10s"
	export DBUS_SESSION_BUS_ADDRESS

	# --unlock reads a password on stdin and creates the "login" keyring with
	# it, unlocked; it is also the "default" alias.
	printf '%s' "$KEYRING_PASSWORD" >"$tmp/keyring-password"
	gnome-keyring-daemon --foreground --unlock --components=secrets \
		<"$tmp/keyring-password" >"$tmp/keyring.log" 2>&1 3>&- &
	keyring_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ $(private_bus --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets) == *true* ]] &&
			[[ $(private_bus --dest=org.freedesktop.secrets /org/freedesktop/secrets/collection/login \
				org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked) == *false* ]] && return 0
		kill -0 "$keyring_pid" 2>/dev/null || fail "gnome-keyring-daemon exited: $(cat "$tmp/keyring.log")"
		sleep 0.1
	done
	fail "no unlocked login collection on the private bus after 10s: $(cat "$tmp/keyring.log")"
}

private_bus() { dbus-send --session --print-reply=literal --reply-timeout=2000 "$@" 2>/dev/null; }
