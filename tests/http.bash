# Local HTTP servers for the mnist-fetch tests: a free port, waiting for a listener, and a
# static server (Python's http.server) on 127.0.0.1 over a folder.
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {  # port: wait until something listens (at most ~20 s: a cold machine starts Python slowly)
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server on port $1 did not start" >&2
	return 1
}

# start_static_server DIR: serve DIR; sets and exports PORT and URL, logs to $FX/server.log and
# keeps the pid in $FX/server.pid (stop_static_server kills it).
start_static_server() {
	export PORT URL
	PORT=$(free_port)
	"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$1" "$PORT" >/dev/null 2>"$FX/server.log" &
	echo $! > "$FX/server.pid"
	wait_port "$PORT"
	URL="http://127.0.0.1:$PORT"
}

stop_static_server() {
	[ -f "$FX/server.pid" ] && kill "$(cat "$FX/server.pid")" 2>/dev/null || true
}
