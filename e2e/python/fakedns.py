"""A tiny authoritative DNS server on 127.0.0.1 (UDP, port 0) for domain verification.

Every server the suite starts is pointed at it with `--dns-resolver`, so domain
verification never leaves the machine: a name with a registered TXT record
answers it, any other name is NXDOMAIN. Standard library only.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Dict, List, Optional, Tuple

TYPE_TXT = 16
CLASS_IN = 1


def _read_name(packet: bytes, offset: int) -> Tuple[str, int]:
    labels: List[str] = []
    while True:
        length = packet[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        if length & 0xC0:  # compression pointer: not used in questions by resolvers
            raise ValueError("compressed name in question")
        labels.append(packet[offset + 1: offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length


def _txt_rdata(value: str) -> bytes:
    data = value.encode()
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


class FakeDns:
    def __init__(self) -> None:
        self.records: Dict[str, List[str]] = {}
        self.queries: List[Tuple[str, int]] = []
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)  # lets close() stop the thread
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_txt(self, name: str, *values: str) -> None:
        with self._lock:
            self.records[name.lower().rstrip(".")] = list(values)

    def _answer(self, packet: bytes) -> Optional[bytes]:
        if len(packet) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        name, end = _read_name(packet, 12)
        qtype, qclass = struct.unpack("!HH", packet[end:end + 4])
        question = packet[12:end + 4]
        key = name.lower().rstrip(".")
        with self._lock:
            self.queries.append((key, qtype))
            values = self.records.get(key)
        rd = flags & 0x0100
        answers = b""
        count = 0
        if values is None:
            rcode = 3  # NXDOMAIN
        else:
            rcode = 0
            if qtype == TYPE_TXT and qclass == CLASS_IN:
                for v in values:
                    rdata = _txt_rdata(v)
                    answers += b"\xc0\x0c" + struct.pack("!HHIH", TYPE_TXT, CLASS_IN, 0, len(rdata)) + rdata
                    count += 1
        # QR=1, AA=1, RA=1, echo RD.
        out_flags = 0x8000 | 0x0400 | 0x0080 | rd | rcode
        header = struct.pack("!HHHHHH", ident, out_flags, 1, count, 0, 0)
        return header + question + answers

    def _serve(self) -> None:
        while not self._stop:
            try:
                packet, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self._answer(packet)
            except (ValueError, IndexError, struct.error):
                reply = None
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()
