#!/usr/bin/env bash
# A real AIStore (one proxy, one target or AIS_LIVE_TARGETS) on the loopback interface, for the
# live test tier (`tox -e live`, `make live`).
#
#   scripts/live-cluster.sh start    build aisnode once (cached), start both nodes, wait
#                                     until the primary is ready, print AIS_ENDPOINT=...
#   scripts/live-cluster.sh stop     stop both nodes and remove their configs, logs and
#                                     mountpath (idempotent)
#   scripts/live-cluster.sh status   say whether it is up and where (exit 1 when down)
#   scripts/live-cluster.sh env      print AIS_ENDPOINT=... of the running cluster
#   scripts/live-cluster.sh build    only build (or find) the cached aisnode binary
#   scripts/live-cluster.sh logs     print the last lines of both nodes' logs
#
# The aisnode binary comes from the Go module proxy at a pinned version and is built with
# the local Go toolchain into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/ais-live/<version>/bin/aisnode
#
# Networking: every listener is on loopback. The public (SDK-facing) endpoints are on
# 127.0.0.1; the intra-cluster network, which aisnode (since 5.0) requires to be separate
# from the public one, uses the same port of each node on a second loopback address,
# 127.0.0.2 (added to `lo` when missing; root). With intra-cluster ports that differ from
# the public ones, aisnode would listen on all interfaces for its public port.
#
# Environment (all optional):
#   AIS_LIVE_VERSION          aistore Go module version (default v1.5.0, the pinned one)
#   AIS_LIVE_CACHE            cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/ais-live)
#   AIS_LIVE_STATE            runtime state dir: configs, logs, mountpath, pids
#                             (default $AIS_LIVE_CACHE/run; needs user xattrs, e.g. ext4/xfs)
#   AIS_LIVE_HOST             public address (default 127.0.0.1)
#   AIS_LIVE_INTRA_HOST       intra-cluster address (default 127.0.0.2)
#   AIS_LIVE_PROXY_PORT       proxy port (default 51180), on both addresses
#   AIS_LIVE_TARGET_PORT      target port (default 51181), on both addresses; with several
#                             targets, the first one's (the others take the next ports)
#   AIS_LIVE_TARGETS          number of targets, 1 to 16 (default 1); tests that need more
#                             than one target run against such a cluster
#   AIS_LIVE_START_TIMEOUT    seconds to wait for readiness (default 120)
#   GO                        the go command (default: `go` in PATH, else /usr/local/go/bin/go)

set -uo pipefail

readonly PINNED_VERSION="v1.5.0"
# h1: hash of the github.com/NVIDIA/aistore@v1.5.0 module zip (what go.sum would record).
readonly PINNED_SUM="h1:no092uKzQfSVwZQ6X+b3ObimSRLRjwKiLiC+SRJJIJw="
readonly MODULE="github.com/NVIDIA/aistore"

VERSION="${AIS_LIVE_VERSION:-$PINNED_VERSION}"
CACHE_ROOT="${AIS_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ais-live}"
STATE="${AIS_LIVE_STATE:-$CACHE_ROOT/run}"
HOST="${AIS_LIVE_HOST:-127.0.0.1}"
INTRA_HOST="${AIS_LIVE_INTRA_HOST:-127.0.0.2}"
PROXY_PORT="${AIS_LIVE_PROXY_PORT:-51180}"
TARGET_PORT="${AIS_LIVE_TARGET_PORT:-51181}"
START_TIMEOUT="${AIS_LIVE_START_TIMEOUT:-120}"

# where the running cluster (if any) keeps its state, so that status/env/stop find one
# started with a non-default AIS_LIVE_STATE or ports
STATE_POINTER="$CACHE_ROOT/state-dir"
if [[ -z "${AIS_LIVE_STATE:-}" && -r "$STATE_POINTER" ]]; then
	STATE="$(head -n1 "$STATE_POINTER")"
fi

BIN_DIR="$CACHE_ROOT/$VERSION/bin"
BIN="$BIN_DIR/aisnode"
BUILD_LOG="$CACHE_ROOT/$VERSION/build.log"
ENDPOINT_FILE="$CACHE_ROOT/endpoint"
ENDPOINT="http://$HOST:$PROXY_PORT"
[[ -r "$STATE/endpoint" ]] && ENDPOINT="$(head -n1 "$STATE/endpoint")"
[[ -r "$STATE/intra-host" ]] && INTRA_HOST="$(head -n1 "$STATE/intra-host")"
MARKER=".ais-live-state"
# targets: "target", then "target2" ... "targetN" (N from AIS_LIVE_TARGETS, or from the
# state of the running cluster so that status/stop find every one of its nodes)
TARGETS="${AIS_LIVE_TARGETS:-1}"
[[ -r "$STATE/targets" ]] && TARGETS="$(tr -dc '0-9' <"$STATE/targets")"
target_nodes() {
	local i
	echo target
	for ((i = 2; i <= TARGETS; i++)); do echo "target$i"; done
}
port_of() { # node -> its port
	case "$1" in
	proxy) echo "$PROXY_PORT" ;;
	target) echo "$TARGET_PORT" ;;
	*) echo $((TARGET_PORT + ${1#target} - 1)) ;;
	esac
}
mapfile -t TARGET_NODES < <(target_nodes)
NODES=(proxy "${TARGET_NODES[@]}")

PROG="live-cluster"

CLEANUP_ON_DIE=0 # set while `start` has something to undo

die() { # one clear line, non-zero exit
	echo "$PROG: error: $*" >&2
	if ((CLEANUP_ON_DIE)); then
		CLEANUP_ON_DIE=0
		_stop quiet
	fi
	exit 1
}
info() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------------------- helpers

find_go() {
	if [[ -n "${GO:-}" ]]; then
		command -v "$GO" 2>/dev/null && return 0
		return 1
	fi
	command -v go 2>/dev/null && return 0
	[[ -x /usr/local/go/bin/go ]] && { echo /usr/local/go/bin/go; return 0; }
	return 1
}

# http_code URL -> prints the status code ("000" when nothing answers)
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 3 "$1" 2>/dev/null || true
}

pid_of() { # node -> pid from the pid file, or nothing
	local f="$STATE/$1/pid"
	[[ -r "$f" ]] && tr -dc '0-9' <"$f"
}

# is_ours PID: alive and an aisnode started with a config from our state dir
is_ours() {
	local pid="$1"
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-local_config=$STATE/"
}

port_busy() { # host port -> 0 when something accepts connections there
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

node_log() { # node -> path of its aisnode INFO log, if any
	local f
	for f in "$STATE/$1/log"/ais*.INFO; do
		[[ -e "$f" ]] && echo "$f"
		return 0
	done
}

show_logs() { # n -> last n lines of each node's outputs, indented, to stderr
	local n="${1:-15}" node f
	for node in "${NODES[@]}"; do
		for f in "$STATE/$node/stdout.log" $(node_log "$node"); do
			[[ -s "$f" ]] || continue
			echo "---- $node: $f (last $n lines)" >&2
			tail -n "$n" "$f" | sed 's/^/    /' >&2
		done
	done
}

# ---------------------------------------------------------------------------- build

# Builds aisnode from the module proxy's copy of the pinned module, inside its
# (read-only) module-cache directory, so that upstream's own go.sum verifies every
# dependency. The sum database does not answer for this module here, so its own zip
# is checked against PINNED_SUM instead.
build() {
	if [[ -x "$BIN" ]]; then
		echo "$BIN"
		return 0
	fi
	local go
	go="$(find_go)" || die "cannot build aisnode $VERSION: no Go toolchain found (need Go >= 1.26 in PATH or /usr/local/go/bin)"
	mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"
	info "building aisnode $VERSION with $("$go" env GOVERSION 2>/dev/null || echo go) (first time only; a few minutes)..."
	local t0=$SECONDS json dir sum
	json="$(GOWORK=off GOFLAGS='' GONOSUMDB="$MODULE" \
		"$go" mod download -json "$MODULE@$VERSION" 2>>"$BUILD_LOG")"
	dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
	sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$json")"
	if [[ -z "$dir" || ! -d "$dir" ]]; then
		local why
		why="$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/\1/p' <<<"$json" | head -n1 | sed 's/\\[nt]/ /g; s/  */ /g')"
		die "cannot download $MODULE@$VERSION from the Go module proxy: ${why:-see $BUILD_LOG}"
	fi
	if [[ "$VERSION" == "$PINNED_VERSION" && "$sum" != "$PINNED_SUM" ]]; then
		die "checksum mismatch for $MODULE@$VERSION: got $sum, expected $PINNED_SUM"
	fi
	local tmp="$BIN.tmp.$$"
	# -tags mono and -trimpath/-s -w: what upstream's production `make node` uses;
	# no cloud backend tags (ais:// buckets only).
	if ! (cd "$dir" && GOWORK=off GOFLAGS=-mod=readonly \
		"$go" build -trimpath -tags mono \
		-ldflags "-s -w -X main.build=$VERSION -X main.buildtime=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		-o "$tmp" ./cmd/aisnode) >>"$BUILD_LOG" 2>&1; then
		rm -f "$tmp"
		die "building aisnode $VERSION failed: $(grep -v '^go: downloading' "$BUILD_LOG" | tail -n1) (full log: $BUILD_LOG)"
	fi
	if ! "$tmp" version >>"$BUILD_LOG" 2>&1; then
		rm -f "$tmp"
		die "the freshly built aisnode does not run (see $BUILD_LOG)"
	fi
	mv -f "$tmp" "$BIN" || die "cannot install $BIN"
	info "built $BIN in $((SECONDS - t0))s"
	echo "$BIN"
}

# ---------------------------------------------------------------------------- configs

check_xattrs() { # dir -> 0 when user xattrs work there
	local f="$1/.xattr-probe"
	: >"$f" || return 1
	local ok=1
	if command -v setfattr >/dev/null 2>&1; then
		setfattr -n user.ais.probe -v 1 "$f" 2>/dev/null && ok=0
	elif command -v python3 >/dev/null 2>&1; then
		python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.ais.probe", b"1")' "$f" 2>/dev/null && ok=0
	else
		ok=0 # cannot probe: let aisnode tell
	fi
	rm -f "$f"
	return $ok
}

write_cluster_config() { # path
	cat >"$1" <<EOF
{
	"backend": {},
	"timeout": {
		"cplane_operation":  "2s",
		"max_keepalive":     "5s",
		"cold_get_conflict": "5s",
		"max_host_busy":     "20s",
		"startup_time":      "30s",
		"join_startup_time": "3m",
		"send_file_time":    "5m",
		"ec_streams_time":   "10m",
		"object_md":         "2h"
	},
	"proxy": {
		"primary_url":   "$ENDPOINT",
		"original_url":  "$ENDPOINT",
		"discovery_url": "",
		"non_electable": false
	},
	"space": {
		"cleanupwm":         65,
		"lowwm":             75,
		"highwm":            90,
		"out_of_space":      95,
		"batch_size":        32768,
		"dont_cleanup_time": "120m"
	},
	"resilver": {"enabled": true},
	"memsys": {
		"min_free":      "1gb",
		"default_buf":   "32kb",
		"to_gc":         "2gb",
		"hk_time":       "3m",
		"min_pct_total": 0,
		"min_pct_free":  0
	},
	"versioning": {"enabled": true, "validate_warm_get": false},
	"net": {
		"l4": {"proto": "tcp", "sndrcv_buf_size": 131072},
		"http": {
			"use_https":           false,
			"server_crt":          "server.crt",
			"server_key":          "server.key",
			"domain_tls":          "",
			"client_ca_tls":       "",
			"client_auth_tls":     0,
			"idle_conn_time":      "6s",
			"idle_conns_per_host": 32,
			"idle_conns":          256,
			"write_buffer_size":   65536,
			"read_buffer_size":    65536,
			"chunked_transfer":    true,
			"skip_verify":         false
		},
		"use_ipv6": false
	},
	"log": {"flush_time": "2s"},
	"auth": {}
}
EOF
}

# intra-control on INTRA_HOST with the public port; intra-data unset = the same network
write_local_config() { # node port path
	local node="$1" port="$2" path="$3" count=0 instance=0
	[[ "$node" == target* ]] && count=1
	# several targets: each its own mountpath, <root>/mp1/<n> (one target: <root>/mp1)
	if [[ "$node" == target* ]] && ((TARGETS > 1)); then
		instance="${node#target}"
		instance="${instance:-1}"
	fi
	cat >"$path" <<EOF
{
	"confdir": "$STATE/$node/conf",
	"log_dir": "$STATE/$node/log",
	"host_net": {
		"hostname":               "$HOST",
		"hostname_intra_control": "$INTRA_HOST",
		"hostname_intra_data":    "",
		"port":                   "$port",
		"port_intra_control":     "$port",
		"port_intra_data":        "0"
	},
	"fspaths": {},
	"test_fspaths": {
		"root":     "$STATE/fs",
		"count":    $count,
		"instance": $instance
	}
}
EOF
}

# aisnode binds each intra-cluster listener to an address it finds on a local interface;
# 127.0.0.2 is routed to loopback but is not an interface address by default, so it is
# added to `lo` (as root) and removed again by the `stop` that finds no other listener on
# it. The marker is per machine (/run), as clusters with other AIS_LIVE_CACHE/ports share
# the address.
ALIAS_MARKER_DIR="${AIS_LIVE_RUN_DIR:-/run/ais-live}"

has_addr() { ip -4 -o addr show dev lo 2>/dev/null | grep -qF " inet $1/"; }

ensure_intra_addr() {
	command -v ip >/dev/null 2>&1 || die "the 'ip' command (iproute2) is needed to check for $INTRA_HOST on lo"
	has_addr "$INTRA_HOST" && return 0
	if [[ "$(id -u)" != 0 ]]; then
		die "$INTRA_HOST (intra-cluster address) is not on the loopback interface; run: sudo ip addr add $INTRA_HOST/32 dev lo"
	fi
	ip addr add "$INTRA_HOST/32" dev lo 2>/dev/null || die "cannot add $INTRA_HOST/32 to the loopback interface"
	mkdir -p "$ALIAS_MARKER_DIR" 2>/dev/null && : >"$ALIAS_MARKER_DIR/lo-alias-$INTRA_HOST"
}

release_intra_addr() {
	local marker="$ALIAS_MARKER_DIR/lo-alias-$INTRA_HOST"
	[[ -e "$marker" ]] || return 0 # not added by this script: leave it
	command -v ss >/dev/null 2>&1 || return 0
	# another cluster still listens there: the last one to stop removes it
	[[ -z "$(ss -Hltn src "$INTRA_HOST" 2>/dev/null)" ]] || return 0
	has_addr "$INTRA_HOST" && ip addr del "$INTRA_HOST/32" dev lo 2>/dev/null
	rm -f "$marker"
}

# ---------------------------------------------------------------------------- commands

running() { # 0 when both nodes are ours and alive
	local node
	for node in "${NODES[@]}"; do
		is_ours "$(pid_of "$node")" || return 1
	done
}

# ready: the primary says so and the cluster map has every target
ready() {
	[[ "$(http_code "$ENDPOINT/v1/health?prr=true")" == 200 ]] || return 1
	local smap
	smap="$(curl -s --max-time 3 "$ENDPOINT/v1/daemon?what=smap" 2>/dev/null)" || return 1
	[[ "$(grep -o '"daemon_type":"target"' <<<"$smap" | wc -l)" -ge "$TARGETS" ]]
}

cmd_start() {
	if running && ready; then
		echo "AIS_ENDPOINT=$ENDPOINT"
		return 0
	fi
	# leftovers of a crashed or half-started run
	_stop quiet
	STATE="${AIS_LIVE_STATE:-$CACHE_ROOT/run}"
	ENDPOINT="http://$HOST:$PROXY_PORT"
	INTRA_HOST="${AIS_LIVE_INTRA_HOST:-127.0.0.2}"
	TARGETS="${AIS_LIVE_TARGETS:-1}"
	mapfile -t TARGET_NODES < <(target_nodes)
	NODES=(proxy "${TARGET_NODES[@]}")

	[[ "$HOST" == 127.* && "$INTRA_HOST" == 127.* ]] ||
		die "AIS_LIVE_HOST and AIS_LIVE_INTRA_HOST must be loopback addresses (127.x.y.z)"
	[[ "$HOST" != "$INTRA_HOST" ]] ||
		die "AIS_LIVE_INTRA_HOST must differ from AIS_LIVE_HOST (with distinct ports instead, aisnode would listen on all interfaces)"
	[[ "$TARGETS" =~ ^[0-9]+$ ]] && ((TARGETS >= 1 && TARGETS <= 16)) ||
		die "AIS_LIVE_TARGETS must be a number from 1 to 16, got '$TARGETS'"
	local hp node_ports=("$PROXY_PORT") n
	for n in "${TARGET_NODES[@]}"; do node_ports+=("$(port_of "$n")"); done
	for hp in "${node_ports[@]/#/$HOST:}" "${node_ports[@]/#/$INTRA_HOST:}"; do
		port_busy "${hp%:*}" "${hp##*:}" && die "address $hp is already in use (another AIStore or service?); set AIS_LIVE_PROXY_PORT/AIS_LIVE_TARGET_PORT"
	done
	command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install curl)"

	local bin
	bin="$(build)" || exit 1

	CLEANUP_ON_DIE=1
	ensure_intra_addr

	if [[ -d "$STATE" && ! -e "$STATE/$MARKER" && -n "$(ls -A "$STATE" 2>/dev/null)" ]]; then
		die "state dir $STATE exists and is not empty (stop removes it: point AIS_LIVE_STATE at a new or empty dir)"
	fi
	mkdir -p "$STATE/fs" || die "cannot create state dir $STATE"
	: >"$STATE/$MARKER"
	echo "$ENDPOINT" >"$STATE/endpoint"
	echo "$INTRA_HOST" >"$STATE/intra-host"
	echo "$TARGETS" >"$STATE/targets"
	echo "$STATE" >"$STATE_POINTER"
	check_xattrs "$STATE/fs" ||
		die "filesystem of $STATE does not support user extended attributes (tmpfs/overlay?); set AIS_LIVE_STATE to a dir on ext4/xfs"

	local t0=$SECONDS node port
	for node in "${NODES[@]}"; do
		port="$(port_of "$node")"
		mkdir -p "$STATE/$node/conf" "$STATE/$node/log"
		write_cluster_config "$STATE/$node/ais.json"
		write_local_config "$node" "$port" "$STATE/$node/ais_local.json"
		local args=(-config="$STATE/$node/ais.json" -local_config="$STATE/$node/ais_local.json" -role="${node%%[0-9]*}")
		# -ntargets=N: the primary waits for the targets before it creates the cluster (the
		# membership-quiescence wait costs ~10 s; -skip_startup would save it, but then the
		# cluster accepts requests before the targets join and rebalances on their arrival)
		[[ "$node" == proxy ]] && args+=(-ntargets="$TARGETS")
		# a clean environment: aisnode reads AIS_* variables (AIS_ENDPOINT among them)
		setsid env -i PATH="/usr/local/bin:/usr/bin:/bin" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}" \
			"$bin" "${args[@]}" </dev/null >"$STATE/$node/stdout.log" 2>&1 9>&- &
		echo $! >"$STATE/$node/pid"
	done

	local deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		for node in "${NODES[@]}"; do
			if ! is_ours "$(pid_of "$node")"; then
				show_logs 20
				die "aisnode $node exited during startup (logs above)"
			fi
		done
		if ready; then
			mkdir -p "$CACHE_ROOT"
			echo "AIS_ENDPOINT=$ENDPOINT" >"$ENDPOINT_FILE"
			CLEANUP_ON_DIE=0
			info "up in $((SECONDS - t0))s: proxy pid $(pid_of proxy), $TARGETS target(s), state $STATE"
			echo "AIS_ENDPOINT=$ENDPOINT"
			return 0
		fi
		sleep 0.3
	done
	show_logs 20
	die "cluster not ready after ${START_TIMEOUT}s: GET $ENDPOINT/v1/health?prr=true did not answer 200 (logs above)"
}

_stop() { # [quiet]
	local node pid stopped=0
	# targets first: the proxy then sees an orderly departure
	for node in "${TARGET_NODES[@]}" proxy; do
		pid="$(pid_of "$node")"
		if is_ours "$pid"; then
			kill -TERM "$pid" 2>/dev/null && stopped=1
		fi
	done
	local deadline=$((SECONDS + 30))
	for node in "${TARGET_NODES[@]}" proxy; do
		pid="$(pid_of "$node")"
		while is_ours "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
		if is_ours "$pid"; then
			kill -KILL "$pid" 2>/dev/null
			while is_ours "$pid"; do sleep 0.1; done
		fi
	done
	if [[ -d "$STATE" ]]; then
		# remove only a dir this script made
		if [[ -e "$STATE/$MARKER" ]]; then
			rm -rf "$STATE"
		else
			[[ -z "$(ls -A "$STATE" 2>/dev/null)" ]] && rmdir "$STATE"
		fi
	fi
	rm -f "$ENDPOINT_FILE" "$STATE_POINTER"
	release_intra_addr
	if [[ "${1:-}" != quiet ]]; then
		if ((stopped)); then info "stopped"; else info "not running"; fi
	fi
	return 0
}

cmd_stop() { _stop; }

cmd_status() {
	if running; then
		if ready; then
			echo "up: AIS_ENDPOINT=$ENDPOINT (proxy pid $(pid_of proxy), $TARGETS target(s), aisnode $VERSION, state $STATE)"
			return 0
		fi
		echo "starting or unhealthy: processes run but $ENDPOINT/v1/health?prr=true is not 200 (state $STATE)"
		return 1
	fi
	echo "down"
	return 1
}

cmd_env() {
	if ! running || ! ready; then
		die "the live cluster is not running (scripts/live-cluster.sh start)"
	fi
	echo "AIS_ENDPOINT=$ENDPOINT"
}

cmd_logs() { show_logs "${1:-40}"; }

with_lock() {
	mkdir -p "$CACHE_ROOT" || die "cannot create $CACHE_ROOT"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$CACHE_ROOT/.lock"
		flock -w 600 9 || die "another live-cluster command holds $CACHE_ROOT/.lock"
	fi
	"$@"
}

case "${1:-}" in
start) with_lock cmd_start ;;
stop) with_lock cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
build) with_lock build >/dev/null && echo "$BIN" ;;
logs) cmd_logs "${2:-40}" ;;
*)
	echo "usage: $0 start|stop|status|env|build|logs" >&2
	exit 2
	;;
esac
