# bench/lib.sh - what the benchmark scripts share; sourced, not run.

# free_port: a port P where P..P+7 are free on 127.0.0.1 (the gateway
# takes P, the daemons P+1...).
free_port() {
	python3 - <<'PY'
import socket
for p in range(20000, 60000, 10):
    ok = True
    for q in range(p, p + 8):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(p)
        break
PY
}
