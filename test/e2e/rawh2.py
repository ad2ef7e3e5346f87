"""A gRPC client written on a bare socket, for what real clients do not let a
test do on purpose: open an ADS stream that grants the server no flow-control
window (SETTINGS_INITIAL_WINDOW_SIZE 0), so the server's first response stays
a write in flight for as long as the test wants, and then cancel the stream
(RST_STREAM CANCEL) or drop the connection.

Also: DiscoveryRequest encoded by hand (the fields the tests need), so no
generated Python code is required.
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
CANCEL = 0x8


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def discovery_request(node_id, type_url):
    """envoy.service.discovery.v3.DiscoveryRequest{node{id}, type_url} (wildcard)."""
    return _field(2, _field(1, node_id.encode())) + _field(4, type_url.encode())


def delta_discovery_request(node_id, type_url):
    """envoy.service.discovery.v3.DeltaDiscoveryRequest{node{id}, type_url} (wildcard)."""
    return _field(1, _field(1, node_id.encode())) + _field(2, type_url.encode())


def grpc_message(payload):
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def _frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _literal(name, value):
    """HPACK literal header field without indexing, new name, no Huffman (short strings)."""
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


class StalledStream:
    """One gRPC call on its own connection whose response the server can never send."""

    def __init__(self, addr, path, request, source=None):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5, source_address=source)
        self.sock.sendall(PREFACE + _frame(SETTINGS, 0, 0, struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, 0)))
        headers = b"".join(_literal(k, v) for k, v in [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", addr),
            ("content-type", "application/grpc"), ("te", "trailers")])
        self.sock.sendall(_frame(HEADERS, END_HEADERS, 1, headers) + _frame(DATA, 0, 1, grpc_message(request)))
        self.frames = []  # (type, flags, stream) the server sent

    def _read_frame(self):
        head = self._read_exactly(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags, stream = head[3], head[4], struct.unpack(">I", head[5:])[0] & 0x7FFFFFFF
        payload = self._read_exactly(length)
        if kind == SETTINGS and not flags & ACK:
            self.sock.sendall(_frame(SETTINGS, ACK, 0))
        if kind == PING and not flags & ACK:
            self.sock.sendall(_frame(PING, ACK, 0, payload))
        self.frames.append((kind, flags, stream))
        return kind, flags, stream

    def _read_exactly(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return buf

    def wait_for_response_headers(self, timeout=10):
        """Reads until the server sends the stream's HEADERS (it has started its
        first write: gRPC sends initial metadata with the first message); True then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                kind, _, stream = self._read_frame()
            except socket.timeout:
                break
            if kind == HEADERS and stream == 1:
                return True
        return False

    def data_received(self):
        return any(kind == DATA and stream == 1 for kind, _, stream in self.frames)

    def half_close(self):
        """END_STREAM: the client sends no more requests (the server's read ends)."""
        self.sock.sendall(_frame(DATA, END_STREAM, 1))

    def cancel(self):
        """RST_STREAM(CANCEL) on the call; the connection stays open."""
        self.sock.sendall(_frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))

    def close(self):
        self.sock.close()
