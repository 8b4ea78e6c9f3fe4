"""A libzmq peer driven over stdin/stdout, for interop tests and benchmarks.

Usage: pyzmq_peer.py TYPE bind|connect ENDPOINT [name=value ...]
  TYPE: PUSH PULL PUB SUB XPUB XSUB; options: sndhwm rcvhwm linger (ms; default 2000 for senders, 0 for
  receivers) heartbeat (ms) ipv6 (0/1); CURVE: curve_secretkey curve_publickey (Z85) and either
  curve_server=1 or curve_serverkey (Z85).
Prints "READY <last_endpoint>", then runs one command per stdin line. Frames are written as
hex, "-" for an empty frame, separated by spaces.
  send F...                 send one message                      -> OK
  gen N F0 SIZE             N messages [F0, u32 BE seq + zero pad to SIZE]  -> OK N
  recv N [TIMEOUT_MS]       receive N messages: "MSG F..." each   -> OK | TIMEOUT got
  recvseq N [TIMEOUT_MS]    receive N [*, seq…] messages quietly  -> OK n in_order seconds bytes
  recvcount N [TIMEOUT_MS]  receive N messages, only summing sizes -> OK n 1 seconds bytes
  subscribe F | unsubscribe F                                     -> OK
  probe F...                send F... every 10 ms until the next line -> OK probing
  stop                      (ends a probe)                        -> OK stopped
  close                     close (linger applies) and exit       -> BYE
End of input acts like close.
"""

import os
import select
import struct
import sys
import time

import zmq

TYPES = {
    "PUSH": zmq.PUSH,
    "PULL": zmq.PULL,
    "PUB": zmq.PUB,
    "SUB": zmq.SUB,
    "XPUB": zmq.XPUB,
    "XSUB": zmq.XSUB,
}


def frame(text):
    return b"" if text == "-" else bytes.fromhex(text)


def show(data):
    return data.hex() if data else "-"


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Lines:
    """Lines from fd 0 without Python's buffering, so select() tells the truth."""

    def __init__(self):
        self.buf = b""
        self.eof = False

    def ready(self, timeout):
        if b"\n" in self.buf or self.eof:
            return True
        readable, _, _ = select.select([0], [], [], timeout)
        return bool(readable)

    def next(self):
        while b"\n" not in self.buf:
            if self.eof:
                rest, self.buf = self.buf, b""
                return rest.decode() if rest else None
            chunk = os.read(0, 1 << 20)
            if not chunk:
                self.eof = True
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def main():
    kind, mode, endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = dict(arg.split("=", 1) for arg in sys.argv[4:])
    ctx = zmq.Context()
    sock = ctx.socket(TYPES[kind])
    # Senders linger so queued messages still go out on close; receivers need not.
    default_linger = "2000" if kind in ("PUSH", "PUB", "XPUB") else "0"
    sock.setsockopt(zmq.LINGER, int(opts.get("linger", default_linger)))
    if "sndhwm" in opts:
        sock.setsockopt(zmq.SNDHWM, int(opts["sndhwm"]))
    if "rcvhwm" in opts:
        sock.setsockopt(zmq.RCVHWM, int(opts["rcvhwm"]))
    if "heartbeat" in opts:
        sock.setsockopt(zmq.HEARTBEAT_IVL, int(opts["heartbeat"]))
    if opts.get("ipv6") == "1":
        sock.setsockopt(zmq.IPV6, 1)
    if "curve_secretkey" in opts:
        sock.curve_secretkey = opts["curve_secretkey"].encode()
        sock.curve_publickey = opts["curve_publickey"].encode()
        if opts.get("curve_server") == "1":
            sock.curve_server = True
        else:
            sock.curve_serverkey = opts["curve_serverkey"].encode()
    if mode == "bind":
        sock.bind(endpoint)
    else:
        sock.connect(endpoint)
    say("READY " + (sock.getsockopt_string(zmq.LAST_ENDPOINT) or endpoint))

    lines = Lines()
    while True:
        # libzmq attaches new connections (and a SUB sends its subscriptions to them) only
        # when the application thread touches the socket, as a real app blocked in recv()
        # would; so keep touching it while waiting for a command.
        while not lines.ready(0.02):
            sock.getsockopt(zmq.EVENTS)
        line = lines.next()
        if line is None or line.strip() == "close":
            break
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "send":
            sock.send_multipart([frame(a) for a in args])
            say("OK")
        elif cmd == "gen":
            count, first, size = int(args[0]), frame(args[1]), int(args[2])
            pad = b"\0" * max(0, size - 4)
            for i in range(count):
                sock.send_multipart([first, struct.pack(">I", i) + pad])
            say("OK %d" % count)
        elif cmd == "recvcount":
            # The benchmark baseline: receive and touch frame lengths, nothing more.
            count = int(args[0])
            sock.setsockopt(zmq.RCVTIMEO, int(args[1]) if len(args) > 1 else 20000)
            try:
                msg = sock.recv_multipart()
                start = time.perf_counter()
                nbytes = sum(len(f) for f in msg)
                for _ in range(count - 1):
                    msg = sock.recv_multipart()
                    nbytes += sum(len(f) for f in msg)
            except zmq.Again:
                say("TIMEOUT")
                continue
            say("OK %d 1 %.6f %d" % (count, time.perf_counter() - start, nbytes))
        elif cmd in ("recv", "recvseq"):
            count = int(args[0])
            timeout = int(args[1]) if len(args) > 1 else 20000
            sock.setsockopt(zmq.RCVTIMEO, timeout)
            got, in_order, nbytes, start, expect = 0, 1, 0, None, 0
            try:
                while got < count:
                    msg = sock.recv_multipart(copy=True)
                    if start is None:
                        start = time.perf_counter()
                    got += 1
                    if cmd == "recv":
                        say("MSG " + " ".join(show(f) for f in msg))
                        continue
                    nbytes += sum(len(f) for f in msg)
                    seq = struct.unpack(">I", msg[1][:4])[0] if len(msg) > 1 else -1
                    if seq != expect:
                        in_order = 0
                    expect = seq + 1
            except zmq.Again:
                say("TIMEOUT %d" % got)
                continue
            if cmd == "recv":
                say("OK")
            else:
                elapsed = time.perf_counter() - start if start is not None else 0.0
                say("OK %d %d %.6f %d" % (got, in_order, elapsed, nbytes))
        elif cmd in ("subscribe", "unsubscribe"):
            option = zmq.SUBSCRIBE if cmd == "subscribe" else zmq.UNSUBSCRIBE
            sock.setsockopt(option, frame(args[0]) if args else b"")
            say("OK")
        elif cmd == "probe":
            message = [frame(a) for a in args]
            say("OK probing")
            while not lines.ready(0.01):
                sock.send_multipart(message)
        elif cmd == "stop":
            say("OK stopped")
        else:
            say("ERR unknown command " + cmd)
    sock.close()
    ctx.term()
    say("BYE")


if __name__ == "__main__":
    main()
