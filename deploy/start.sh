#!/usr/bin/env bash
# The ticket service as in production, on this machine: N uvicorn backends on loopback behind nginx.
#
#   deploy/start.sh [--listen ADDR:PORT] [--backends N] [--backend-ports P1,P2,...] [--run-dir DIR] [--config-only]
#
# The store is the environment's, as for `uvicorn main:app`: TICKETS_DATABASE_URL (PostgreSQL, any number of
# backends, on as many hosts as wanted) or TICKETS_FILE (the JSON file: its backends share one host, and its file
# lock keeps their writes in order). Every option also reads from the environment: TICKETS_LISTEN,
# TICKETS_BACKENDS, TICKETS_BACKEND_PORTS, TICKETS_RUN_DIR; TICKETS_PYTHON names the Python that has the
# requirements installed, TICKETS_NGINX the nginx program.
#
# It renders deploy/nginx.conf.template into the run folder (pid, logs and temporary files all stay there), starts
# the backends and nginx, waits until each answers /health, prints the URL, restarts a backend that dies (as
# systemd's Restart=always does), and on SIGTERM or Ctrl-C stops nginx, then the backends, and exits.
# --config-only writes the nginx configuration and stops there (the systemd unit tickets-nginx.service uses it).
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true  # bash 5.2: an "&" in a path must stay an "&" in ${x//a/b}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$here")

listen=${TICKETS_LISTEN:-127.0.0.1:8080}
backends=${TICKETS_BACKENDS:-2}
backend_ports=${TICKETS_BACKEND_PORTS:-}
run_dir=${TICKETS_RUN_DIR:-${TMPDIR:-/tmp}/tickets-$(id -un)}
python=${TICKETS_PYTHON:-python3}
nginx=${TICKETS_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
config_only=false

# The service's own limits; deploy/systemd/tickets@.service repeats them, and deploy/README.md says why.
limit_concurrency=128   # connections + requests per backend before it answers 503; above nginx's 2 x 16 idle ones
keep_alive=75           # seconds; longer than nginx's keepalive_timeout to the backends (60 s): nginx closes first
graceful=10             # seconds a stopping backend gives the requests it is serving

usage() { sed -n '4s/^#  *//p' "${BASH_SOURCE[0]}"; }
die() {
    echo "start.sh: $*" >&2
    exit 1
}
value() { # value OPTION REMAINING: the option's value must be there
    (($2 >= 2)) || die "$1 needs a value"
}

while (($#)); do
    case $1 in
    --listen) value "$1" $# && listen=$2 && shift ;;
    --backends) value "$1" $# && backends=$2 && shift ;;
    --backend-ports) value "$1" $# && backend_ports=$2 && shift ;;
    --run-dir) value "$1" $# && run_dir=$2 && shift ;;
    --config-only) config_only=true ;;
    -h | --help) usage && exit 0 ;;
    *) usage >&2 && die "unknown option $1" ;;
    esac
    shift
done

if [[ -n $backend_ports ]]; then
    IFS=, read -r -a ports <<<"$backend_ports"
else
    [[ $backends =~ ^[1-9][0-9]*$ ]] || die "--backends must be a number >= 1, not '$backends'"
    ports=()
    for ((n = 1; n <= backends; n++)); do ports+=($((8000 + n))); done  # backend n on port 800n, as tickets@n
fi
for port in "${ports[@]}"; do
    [[ $port =~ ^[1-9][0-9]*$ ]] || die "a backend port must be a number, not '$port'"
done
[[ $listen == *:* ]] || listen=127.0.0.1:$listen

mkdir -p "$run_dir/temp"
run_dir=$(cd "$run_dir" && pwd)

# One start.sh per run folder: the lock is held as long as start.sh or any process it started lives.
exec 9>"$run_dir/start.lock"
flock -n 9 || die "another start.sh is running in $run_dir"

render_config() {
    # Descriptors: as many as the hard limit allows (up to 65536); each worker may use half for clients.
    local nofile servers="" port config
    nofile=$(ulimit -Hn)
    [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
    ((nofile >= 8192)) || echo "start.sh: warning: only $nofile descriptors (ulimit -Hn): few slow clients fit" >&2
    for port in "${ports[@]}"; do
        servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
    done
    config=$(<"$here/nginx.conf.template")
    config=${config//@RUN_DIR@/$run_dir}
    config=${config//@LISTEN@/$listen}
    config=${config//@NOFILE@/$nofile}
    config=${config//@WORKER_CONNECTIONS@/$((nofile / 2))}
    config=${config//@SERVERS@$'\n'/$servers}
    if ((EUID == 0)); then
        # Started as root, nginx would run its workers as "nobody", who may not enter a private run folder.
        config=${config//@USER_LINE@/user root root;}
    else
        config=${config//@USER_LINE@/# (no user directive: nginx runs as whoever starts it)}
    fi
    printf '%s\n' "$config" >"$run_dir/nginx.conf"
}

nginx_args=(-p "$run_dir" -e "$run_dir/error.log" -c "$run_dir/nginx.conf")
render_config
"$nginx" -t -q "${nginx_args[@]}" || die "nginx refuses $run_dir/nginx.conf"
if $config_only; then
    echo "nginx configuration written to $run_dir/nginx.conf"
    exit 0
fi

declare -A backend_pid # port -> pid
nginx_pid=
stopping=false

start_backend() {
    local port=$1
    setsid "$python" -m uvicorn main:app --app-dir "$project" --host 127.0.0.1 --port "$port" \
        --proxy-headers --forwarded-allow-ips 127.0.0.1 \
        --limit-concurrency "$limit_concurrency" --timeout-keep-alive "$keep_alive" \
        --timeout-graceful-shutdown "$graceful" --no-access-log \
        >>"$run_dir/backend-$port.log" 2>&1 &
    backend_pid[$port]=$!
    echo $! >"$run_dir/backend-$port.pid.new" && mv "$run_dir/backend-$port.pid.new" "$run_dir/backend-$port.pid"
}

healthy() { # healthy URL: does URL/health answer 200 (asked directly, whatever http_proxy says)?
    "$python" -c 'import sys, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=2)' \
        "$1/health" 2>/dev/null
}

wait_healthy() { # wait_healthy URL PID: until URL/health answers 200; fails if PID exits or after 60 s
    local url=$1 pid=$2 deadline=$((SECONDS + 60))
    until healthy "$url"; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

stop() { # stop [STATUS]: nginx first (it finishes what it has begun), then the backends
    trap - TERM INT HUP
    stopping=true
    echo "stopping"
    if [[ -n $nginx_pid ]]; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    for pid in "${backend_pid[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
    rm -f "$run_dir"/backend-*.pid
    echo "stopped"
    exit "${1:-0}"
}
# The backends and nginx run in sessions of their own (setsid): Ctrl-C reaches start.sh alone, which stops them in
# order; closing the terminal (SIGHUP) stops them too.
trap stop TERM INT HUP

if [[ -n ${TICKETS_DATABASE_URL:-} ]]; then
    store="PostgreSQL (TICKETS_DATABASE_URL)"
else
    store="the JSON file ${TICKETS_FILE:-$project/tickets.json}"
fi
echo "starting ${#ports[@]} backends on $store; logs in $run_dir"
for port in "${ports[@]}"; do start_backend "$port"; done
for port in "${ports[@]}"; do
    wait_healthy "http://127.0.0.1:$port" "${backend_pid[$port]}" || {
        tail -n 20 "$run_dir/backend-$port.log" >&2
        echo "start.sh: the backend on port $port did not become healthy (log above: $run_dir/backend-$port.log)" >&2
        stop 1
    }
done
setsid "$nginx" "${nginx_args[@]}" &
nginx_pid=$!
wait_healthy "http://$listen" "$nginx_pid" || {
    tail -n 20 "$run_dir/error.log" >&2
    echo "start.sh: nginx did not answer on $listen (log above: $run_dir/error.log)" >&2
    stop 1
}
echo "ready: http://$listen (${#ports[@]} backends on ports ${ports[*]}); Ctrl-C stops"

# Watch: a backend that dies is started again after a second; nginx sends its requests to the others meanwhile.
while ! $stopping; do
    exited=
    wait -n -p exited "$nginx_pid" "${backend_pid[@]}" || true
    if [[ -z $exited || $exited == "$nginx_pid" ]]; then
        echo "start.sh: nginx exited (see $run_dir/error.log)" >&2
        nginx_pid=
        stop 1
    fi
    for port in "${!backend_pid[@]}"; do
        if [[ ${backend_pid[$port]} == "$exited" ]]; then
            echo "backend on port $port exited; starting it again"
            sleep 1
            start_backend "$port"
        fi
    done
done
