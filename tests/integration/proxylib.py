"""proxylib.py: what the test proxies share (slowproxy, holdproxy,
flipproxy): a listener on 127.0.0.1 that dials the target for every
connection it accepts and hands both sockets to the proxy's own relay,
and the helpers around it.
"""
import socket
import threading

_lock = threading.Lock()


def say(line):
    """Print one line at once, whichever thread says it."""
    with _lock:
        print(line, flush=True)


def hang_up(*socks):
    """Shut both directions of each socket, ignoring the ones already gone."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def both_ways(client, upstream, to_server, to_client):
    """Run to_server(client, upstream) and to_client(upstream, client) on
    threads of their own, wait for both, then close the sockets."""
    t = [threading.Thread(target=to_server, args=(client, upstream), daemon=True),
         threading.Thread(target=to_client, args=(upstream, client), daemon=True)]
    for x in t:
        x.start()
    for x in t:
        x.join()
    client.close()
    upstream.close()


def serve(listen_port, target_port, relay, announce=False):
    """Listen on 127.0.0.1:listen_port (print "ready" once listening); for
    every connection, dial 127.0.0.1:target_port and run
    relay(client, upstream, idx) on a thread of its own (idx counts the
    connections from 0; with announce, "conn=IDX" is printed as each is
    accepted).  A target that refuses gets the client closed."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    say("ready")
    idx = 0
    while True:
        c, _ = ls.accept()
        if announce:
            say("conn=%d" % idx)
        try:
            s = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            c.close()
            idx += 1
            continue
        threading.Thread(target=relay, args=(c, s, idx), daemon=True).start()
        idx += 1
