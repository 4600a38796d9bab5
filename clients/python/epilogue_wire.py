#!/usr/bin/env python3
"""Reference client for the Epilogue store's binary protocol, version 1.

Written from docs/PROTOCOL.md alone, with the Python standard library only: framing, every
message in both directions, the handshake with its HMAC proof, streamed answers, and record
bodies in all three encodings (inflating with dictionaries fetched by GET_DICTIONARY).

    from epilogue_wire import Client
    with Client("127.0.0.1", 7701, secret=None) as store:
        print(store.get("la-la-land/epilogue")["content"]["reading"])

Run `python3 epilogue_wire.py --help` for the command line.
"""

import argparse
import hashlib
import hmac
import json
import socket
import struct
import sys
import zlib

VERSION = 1
MAGIC = 0x4550494C  # "EPIL"
HEADER_SIZE = 6  # type, flags, request id: what `length` counts besides the trace id and payload
DEFAULT_MAXIMUM_FRAME_SIZE = 1 << 20  # until READY says otherwise (PROTOCOL.md §1)
FLAG_STREAM_CONTINUES = 0x01
FLAG_TRACED = 0x02
KNOWN_FLAGS = FLAG_STREAM_CONTINUES | FLAG_TRACED
AUTH_CONTEXT = b"epilogue-auth-v1"
NONCE_SIZE = 32
PROOF_SIZE = 32
FIRST_TRAINED_DICTIONARY = 1000

TYPES = {
    "HELLO": 0x01, "AUTHENTICATE": 0x02, "CHALLENGE": 0x81, "READY": 0x82,
    "PING": 0x10, "GET": 0x11, "PUT": 0x12, "DELETE": 0x13, "QUERY": 0x14, "SEARCH": 0x15,
    "LIST_FILMS": 0x16, "LIST_THEMES": 0x17, "STATS": 0x18, "GET_DICTIONARY": 0x19, "EXPORT": 0x1A, "IMPORT": 0x1B, "BACKUP": 0x1C, "TRACK": 0x1D,
    "PONG": 0x90, "RECORD": 0x91, "WRITTEN": 0x92, "DELETED": 0x93, "HIT": 0x94, "RESULT_END": 0x95,
    "FILMS": 0x96, "THEMES": 0x97, "STATS_RESULT": 0x98, "DICTIONARY": 0x99, "IMPORTED": 0x9A, "BACKUP_CHUNK": 0x9B, "BACKUP_END": 0x9C, "TRACKING": 0x9D,
    "INVALIDATE": 0x9E, "ERROR": 0xFF,
}
TYPE_NAMES = {value: name for name, value in TYPES.items()}

SOURCE_KINDS = {"director": 1, "cast": 2, "critic": 3, "article": 4, "audience": 5}
SOURCE_KIND_NAMES = {value: name for name, value in SOURCE_KINDS.items()}

ERROR_CODES = {
    1: "BAD_REQUEST", 2: "NOT_FOUND", 3: "CONFLICT", 4: "TOO_LARGE", 5: "UNAUTHORIZED",
    6: "VERSION_UNSUPPORTED", 7: "INVALID_RECORD", 8: "STORAGE_FULL", 9: "INTERNAL",
    10: "UNKNOWN_MESSAGE", 11: "SHUTTING_DOWN", 12: "BUSY", 13: "PROTOCOL_VIOLATION",
}
ERROR_NUMBERS = {name: code for code, name in ERROR_CODES.items()}

ENCODING_PLAIN, ENCODING_ZLIB, ENCODING_DEFLATE = 0, 1, 2

TRACKING_MODES = {"off": 0, "broadcast": 1}
TRACKING_MODE_NAMES = {value: name for name, value in TRACKING_MODES.items()}


class DecodeError(Exception):
    """Bytes that are not a valid frame or message (a decoding error in PROTOCOL.md's terms)."""


class ServerError(Exception):
    """An ERROR frame from the server."""

    def __init__(self, code, message, request_id=0, versions=None):
        self.code = code
        self.name = ERROR_CODES.get(code, "INTERNAL")  # unknown codes are treated as INTERNAL
        self.message = message
        self.request_id = request_id
        self.versions = versions
        super().__init__(f"{self.name}: {message}")


class ConnectionClosed(Exception):
    """The server closed the connection (possibly mid-frame)."""


# ---------------------------------------------------------------------------------------------
# Primitive types (PROTOCOL.md §2)

class Writer:
    def __init__(self):
        self.out = bytearray()

    def u8(self, v): self.out += struct.pack(">B", v); return self
    def u16(self, v): self.out += struct.pack(">H", v); return self
    def u32(self, v): self.out += struct.pack(">I", v); return self
    def u64(self, v): self.out += struct.pack(">Q", v); return self
    def i64(self, v): self.out += struct.pack(">q", v); return self
    def f64(self, v): self.out += struct.pack(">d", v); return self
    def bool(self, v): return self.u8(1 if v else 0)

    def bytes(self, v):
        self.u32(len(v))
        self.out += bytes(v)
        return self

    def string(self, v): return self.bytes(v.encode("utf-8"))

    def optional(self, v, write):
        if v is None:
            return self.u8(0)
        self.u8(1)
        write(v)
        return self

    def list(self, items, write):
        self.u32(len(items))
        for item in items:
            write(item)
        return self


class Reader:
    def __init__(self, data):
        self.data = memoryview(bytes(data))
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n, field):
        if n > self.left():
            raise DecodeError(f"payload ends inside {field}")
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return chunk

    def u8(self, f): return self.take(1, f)[0]
    def u16(self, f): return struct.unpack(">H", self.take(2, f))[0]
    def u32(self, f): return struct.unpack(">I", self.take(4, f))[0]
    def u64(self, f): return struct.unpack(">Q", self.take(8, f))[0]
    def i64(self, f): return struct.unpack(">q", self.take(8, f))[0]

    def f64(self, f):
        value = struct.unpack(">d", self.take(8, f))[0]
        return value

    def bool(self, f):
        b = self.u8(f)
        if b not in (0, 1):
            raise DecodeError(f"{f}: boolean byte must be 0 or 1, got {b}")
        return b == 1

    def bytes(self, f):
        n = self.u32(f)
        return self.take(n, f)  # checked against the bytes left before anything is copied

    def string(self, f):
        raw = self.bytes(f)
        try:
            return raw.decode("utf-8")  # strict: invalid UTF-8 (and surrogates) is an error
        except UnicodeDecodeError:
            raise DecodeError(f"{f} is not valid UTF-8") from None

    def optional(self, f, read):
        return read() if self.bool(f) else None

    def list(self, f, minimum_item_size, read):
        n = self.u32(f)
        if n * minimum_item_size > self.left():
            raise DecodeError(f"payload ends inside {f}")
        return [read() for _ in range(n)]

    def end(self, type_code):
        if self.left():
            raise DecodeError(f"{self.left()} unexpected bytes after message 0x{type_code:02x}")


# ---------------------------------------------------------------------------------------------
# Frames (PROTOCOL.md §1)

def encode_frame(type_code, request_id, payload=b"", flags=0, trace_id=None):
    if trace_id is not None:
        flags |= FLAG_TRACED
    header = struct.pack(">BBI", type_code, flags, request_id)
    if trace_id is not None:
        header += struct.pack(">Q", trace_id)
    return struct.pack(">I", len(header) + len(payload)) + header + bytes(payload)


def decode_frame(data, maximum=DEFAULT_MAXIMUM_FRAME_SIZE):
    """One whole frame from `data` -> (type, flags, request_id, trace_id, payload, bytes used).
    Returns None when `data` holds no whole frame yet."""
    if len(data) < 4:
        return None
    (length,) = struct.unpack(">I", data[:4])
    check_length(length, maximum)
    if len(data) < 4 + length:
        return None
    type_code, flags, request_id = struct.unpack(">BBI", data[4:10])
    body = data[10:4 + length]
    trace_id = None
    if flags & ~KNOWN_FLAGS:
        raise DecodeError(f"unknown frame flags 0x{flags:02x}")
    if flags & FLAG_TRACED:
        if len(body) < 8:
            raise DecodeError("payload ends inside trace id")
        (trace_id,) = struct.unpack(">Q", body[:8])
        body = body[8:]
    return type_code, flags, request_id, trace_id, bytes(body), 4 + length


def check_length(length, maximum):
    if length < HEADER_SIZE:
        raise DecodeError(f"frame length {length} is shorter than the 6-byte header")
    if length > maximum:
        raise DecodeError(f"frame of {length} bytes exceeds the maximum of {maximum}")


# ---------------------------------------------------------------------------------------------
# Messages (PROTOCOL.md §2.2-2.4, §4). A message is a dict with "type" (the name) and its fields.

def _write_content(w, c):
    w.string(c["film"]).u16(c["year"]).string(c["director"]).string(c["subject"])
    w.string(c["reading"]).string(c["source"])
    kind = c["source_kind"]
    w.u8(SOURCE_KINDS[kind] if isinstance(kind, str) else kind)
    w.list(c.get("themes", []), w.string)


def _read_content(r):
    c = {"film": r.string("film"), "year": r.u16("year"), "director": r.string("director"),
         "subject": r.string("subject"), "reading": r.string("reading"), "source": r.string("source")}
    kind = r.u8("source_kind")
    if kind not in SOURCE_KIND_NAMES:
        raise DecodeError(f"source_kind: unknown source kind {kind}")
    c["source_kind"] = SOURCE_KIND_NAMES[kind]
    c["themes"] = r.list("themes", 4, lambda: r.string("theme"))
    return c


def encode_content(content):
    """A record_content (§2.2) as bytes: the plain record body."""
    w = Writer()
    _write_content(w, content)
    return bytes(w.out)


def decode_content(body):
    r = Reader(body)
    content = _read_content(r)
    if r.left():
        raise DecodeError(f"body: {r.left()} trailing bytes")
    return content


def _write_filter(w, f):
    f = f or {}
    w.optional(f.get("film"), w.string)
    w.optional(f.get("theme"), w.string)
    kind = f.get("source_kind")
    w.optional(None if kind is None else (SOURCE_KINDS[kind] if isinstance(kind, str) else kind), w.u8)
    w.optional(f.get("subject"), w.string)


def _read_filter(r):
    f = {"film": r.optional("film", lambda: r.string("film")),
         "theme": r.optional("theme", lambda: r.string("theme"))}
    kind = r.optional("source_kind", lambda: r.u8("source_kind"))
    if kind is not None and kind not in SOURCE_KIND_NAMES:
        raise DecodeError(f"source_kind: unknown source kind {kind}")
    f["source_kind"] = None if kind is None else SOURCE_KIND_NAMES[kind]
    f["subject"] = r.optional("subject", lambda: r.string("subject"))
    return f


def encode_payload(m):
    """The payload bytes of message `m` (a dict with "type")."""
    w = Writer()
    t = m["type"]
    if t == "HELLO":
        w.u32(m.get("magic", MAGIC)).list(m.get("versions", [VERSION]), w.u16)
        w.string(m.get("client_name", "")).list(m.get("dictionaries", []), w.u32)
    elif t == "AUTHENTICATE":
        w.bytes(m.get("proof", b""))
    elif t in ("PING", "PONG"):
        w.bytes(m.get("data", b""))
    elif t == "GET":
        w.string(m["id"])
    elif t == "PUT":
        w.string(m["id"])
        _write_content(w, m["content"])
        w.optional(m.get("expected_version"), w.u64)
    elif t == "DELETE":
        w.string(m["id"]).optional(m.get("expected_version"), w.u64)
    elif t == "QUERY":
        _write_filter(w, m.get("filter"))
        w.u32(m["limit"]).u32(m.get("offset", 0))
    elif t == "EXPORT":
        _write_filter(w, m.get("filter"))
    elif t == "SEARCH":
        w.string(m["text"])
        _write_filter(w, m.get("filter"))
        w.u32(m["limit"])
        # offset is a trailing optional field: sent only when non-zero (PROTOCOL.md, SEARCH).
        if m.get("offset", 0) or m.get("fuzzy"):
            w.u32(m.get("offset", 0))
        if m.get("fuzzy"):
            w.u8(1)
    elif t in ("LIST_FILMS", "STATS", "BACKUP"):
        pass
    elif t == "LIST_THEMES":
        w.optional(m.get("film"), w.string)
    elif t == "GET_DICTIONARY":
        w.u32(m["dictionary_id"])
    elif t == "IMPORT":
        w.u8({"replace": 0, "skip": 1}[m.get("existing", "replace")])

        def item(i):
            w.u32(i["line"]).string(i["id"])
            _write_content(w, i["content"])
            w.optional(i.get("expected_version"), w.u64)
            w.optional(i.get("version"), w.u64)
            w.optional(i.get("updated_at"), w.i64)
        w.list(m["items"], item)
    elif t in ("TRACK", "TRACKING"):
        w.u8(TRACKING_MODES[m["mode"]])
    elif t == "INVALIDATE":
        w.list(m["ids"], w.string)
    elif t == "CHALLENGE":
        w.u16(m["version"]).bytes(m["nonce"]).bool(m["auth_required"]).string(m["server_name"])
    elif t == "READY":
        w.u32(m["maximum_frame_size"]).list(m.get("dictionaries", []), w.u32)
    elif t == "RECORD":
        w.string(m["id"]).u64(m["version"]).i64(m["updated_at"]).u8(m["encoding"]).u32(m["dictionary_id"]).bytes(m["body"])
    elif t == "WRITTEN":
        w.string(m["id"]).u64(m["version"]).i64(m["updated_at"])
    elif t == "DELETED":
        w.string(m["id"]).u64(m["version"])
    elif t == "HIT":
        w.string(m["id"]).f64(m["score"]).string(m["film"]).string(m["subject"]).string(m["snippet"])
    elif t == "RESULT_END":
        w.u32(m["returned"]).u32(m["total"])
        if m.get("suggestions"):  # optional trailing list (SEARCH's "did you mean")
            w.list(m["suggestions"], w.string)
    elif t == "FILMS":
        w.list(m["films"], lambda f: w.string(f["film"]).u16(f["year"]).string(f["director"]).u32(f["records"]))
    elif t == "THEMES":
        w.list(m["themes"], lambda x: w.string(x["theme"]).u32(x["records"]))
    elif t == "STATS_RESULT":
        w.list(m["stats"], lambda s: w.string(s["name"]).i64(s["value"]))
    elif t == "DICTIONARY":
        w.u32(m["dictionary_id"]).bytes(m["bytes"])
    elif t == "IMPORTED":
        w.u32(m["written"]).u32(m["skipped"]).u32(m["replaced"])
    elif t == "BACKUP_CHUNK":
        w.string(m["file"]).u64(m["offset"]).bytes(m["data"])
    elif t == "BACKUP_END":
        w.list(m["files"], lambda f: w.string(f["name"]).u64(f["length"]).u32(f["crc32"]))
    elif t == "ERROR":
        code = m["code"]
        w.u16(ERROR_NUMBERS[code] if isinstance(code, str) else code).string(m["message"])
        if m.get("versions") is not None:  # VERSION_UNSUPPORTED only
            w.list(m["versions"], w.u16)
    else:
        raise ValueError(f"unknown message type {t}")
    return bytes(w.out)


def decode_payload(type_code, payload):
    """The message a frame of `type_code` carries. Unknown types and trailing bytes are errors."""
    t = TYPE_NAMES.get(type_code)
    if t is None:
        raise DecodeError(f"unknown message type 0x{type_code:02x}")
    r = Reader(payload)
    m = {"type": t}
    if t == "HELLO":
        magic = r.u32("magic")
        if magic != MAGIC:
            raise DecodeError("magic: expected EPIL")
        m["versions"] = r.list("versions", 2, lambda: r.u16("version"))
        m["client_name"] = r.string("client_name")
        m["dictionaries"] = r.list("dictionaries", 4, lambda: r.u32("dictionary"))
    elif t == "AUTHENTICATE":
        m["proof"] = r.bytes("proof")
        if len(m["proof"]) not in (0, PROOF_SIZE):
            raise DecodeError("proof: must be 0 or 32 bytes")
    elif t in ("PING", "PONG"):
        m["data"] = r.bytes("data")
    elif t == "GET":
        m["id"] = r.string("id")
    elif t == "PUT":
        m["id"] = r.string("id")
        m["content"] = _read_content(r)
        m["expected_version"] = r.optional("expected_version", lambda: r.u64("expected_version"))
    elif t == "DELETE":
        m["id"] = r.string("id")
        m["expected_version"] = r.optional("expected_version", lambda: r.u64("expected_version"))
    elif t == "QUERY":
        m["filter"] = _read_filter(r)
        m["limit"], m["offset"] = r.u32("limit"), r.u32("offset")
    elif t == "EXPORT":
        m["filter"] = _read_filter(r)
    elif t == "SEARCH":
        m["text"] = r.string("text")
        m["filter"] = _read_filter(r)
        m["limit"] = r.u32("limit")
        if r.left():
            m["offset"] = r.u32("offset")
        if r.left():
            m["fuzzy"] = r.u8("options") == 1
    elif t in ("LIST_FILMS", "STATS", "BACKUP"):
        pass
    elif t == "LIST_THEMES":
        m["film"] = r.optional("film", lambda: r.string("film"))
    elif t == "GET_DICTIONARY":
        m["dictionary_id"] = r.u32("dictionary_id")
    elif t == "IMPORT":
        existing = r.u8("existing")
        if existing not in (0, 1):
            raise DecodeError(f"unknown import mode {existing}")
        m["existing"] = ["replace", "skip"][existing]

        def item():
            i = {"line": r.u32("line"), "id": r.string("id"), "content": _read_content(r)}
            i["expected_version"] = r.optional("expected_version", lambda: r.u64("expected_version"))
            i["version"] = r.optional("version", lambda: r.u64("version"))
            i["updated_at"] = r.optional("updated_at", lambda: r.i64("updated_at"))
            return i
        m["items"] = r.list("items", 11, item)
    elif t in ("TRACK", "TRACKING"):
        mode = r.u8("mode")
        if mode not in TRACKING_MODE_NAMES:
            raise DecodeError(f"mode: unknown tracking mode {mode}")
        m["mode"] = TRACKING_MODE_NAMES[mode]
    elif t == "INVALIDATE":
        m["ids"] = r.list("ids", 4, lambda: r.string("id"))  # empty: every record
    elif t == "CHALLENGE":
        m["version"] = r.u16("version")
        m["nonce"] = r.bytes("nonce")
        if len(m["nonce"]) != NONCE_SIZE:
            raise DecodeError("nonce: must be 32 bytes")
        m["auth_required"] = r.bool("auth_required")
        m["server_name"] = r.string("server_name")
    elif t == "READY":
        m["maximum_frame_size"] = r.u32("maximum_frame_size")
        # A READY of exactly 4 bytes (a store from before the list) announces no dictionaries.
        m["dictionaries"] = r.list("dictionaries", 4, lambda: r.u32("dictionary")) if r.left() else []
    elif t == "RECORD":
        m["id"] = r.string("id")
        m["version"], m["updated_at"] = r.u64("version"), r.i64("updated_at")
        m["encoding"] = r.u8("encoding")
        if m["encoding"] not in (ENCODING_PLAIN, ENCODING_ZLIB, ENCODING_DEFLATE):
            raise DecodeError(f"encoding: unknown body encoding {m['encoding']}")
        m["dictionary_id"] = r.u32("dictionary_id")
        m["body"] = r.bytes("body")
    elif t == "WRITTEN":
        m["id"], m["version"], m["updated_at"] = r.string("id"), r.u64("version"), r.i64("updated_at")
    elif t == "DELETED":
        m["id"], m["version"] = r.string("id"), r.u64("version")
    elif t == "HIT":
        m["id"] = r.string("id")
        m["score"] = r.f64("score")
        if m["score"] != m["score"] or m["score"] in (float("inf"), float("-inf")):
            raise DecodeError("score: must be a finite number")
        m["film"], m["subject"], m["snippet"] = r.string("film"), r.string("subject"), r.string("snippet")
    elif t == "RESULT_END":
        m["returned"], m["total"] = r.u32("returned"), r.u32("total")
        if r.left():
            m["suggestions"] = r.list("suggestions", 4, lambda: r.string("suggestion"))
    elif t == "FILMS":
        m["films"] = r.list("films", 14, lambda: {"film": r.string("film"), "year": r.u16("year"),
                                                   "director": r.string("director"), "records": r.u32("records")})
    elif t == "THEMES":
        m["themes"] = r.list("themes", 8, lambda: {"theme": r.string("theme"), "records": r.u32("records")})
    elif t == "STATS_RESULT":
        m["stats"] = r.list("stats", 12, lambda: {"name": r.string("name"), "value": r.i64("value")})
    elif t == "DICTIONARY":
        m["dictionary_id"] = r.u32("dictionary_id")
        m["bytes"] = r.bytes("bytes")
    elif t == "IMPORTED":
        m["written"], m["skipped"], m["replaced"] = r.u32("written"), r.u32("skipped"), r.u32("replaced")
    elif t == "BACKUP_CHUNK":
        m["file"], m["offset"], m["data"] = r.string("file"), r.u64("offset"), r.bytes("data")
    elif t == "BACKUP_END":
        m["files"] = r.list("files", 16, lambda: {"name": r.string("name"), "length": r.u64("length"), "crc32": r.u32("crc32")})
    elif t == "ERROR":
        m["code"] = r.u16("code")
        m["message"] = r.string("message")
        if m["code"] == ERROR_NUMBERS["VERSION_UNSUPPORTED"]:
            # Stores before the versions field sent none: an empty list.
            m["versions"] = r.list("versions", 2, lambda: r.u16("version")) if r.left() else []
    r.end(type_code)
    return m


def encode_message(m, request_id, flags=0, trace_id=None):
    """A whole frame carrying message `m`."""
    return encode_frame(TYPES[m["type"]], request_id, encode_payload(m), flags, trace_id)


def auth_proof(secret, nonce):
    """PROTOCOL.md §3: HMAC-SHA256(key = UTF-8 secret, message = "epilogue-auth-v1" || nonce)."""
    return hmac.new(secret.encode("utf-8"), AUTH_CONTEXT + bytes(nonce), hashlib.sha256).digest()


def inflate_body(record, dictionaries):
    """The record_content of a RECORD message; `dictionaries` maps id -> preset dictionary bytes."""
    encoding, dictionary_id, body = record["encoding"], record["dictionary_id"], record["body"]
    if encoding == ENCODING_PLAIN:
        return decode_content(body)
    zdict = b""
    if dictionary_id != 0:
        if dictionary_id not in dictionaries:
            raise KeyError(f"dictionary {dictionary_id} is not known")
        zdict = dictionaries[dictionary_id]
    wbits = 15 if encoding == ENCODING_ZLIB else -15  # zlib stream (RFC 1950) or raw deflate (RFC 1951)
    inflater = zlib.decompressobj(wbits=wbits, zdict=zdict) if zdict else zlib.decompressobj(wbits=wbits)
    raw = inflater.decompress(body) + inflater.flush()
    return decode_content(raw)


# ---------------------------------------------------------------------------------------------
# A connection

class Client:
    """One connection to the store. Requests may be pipelined with `send` and `receive`; the
    helpers (`get`, `put`, ...) send one request and wait for its whole answer."""

    def __init__(self, host="127.0.0.1", port=7701, secret=None, dictionaries=None, client_name="epilogue-python",
                 timeout=10.0, fetch_dictionaries=True):
        self.host, self.port, self.secret = host, port, secret
        self.client_name = client_name
        self.timeout = timeout
        # Dictionary ids to announce in HELLO; None = the built-in 1 plus every id an earlier READY
        # of this client announced. Announced ids are fetched with GET_DICTIONARY on first use.
        self.announce = dictionaries
        self.known_ids = set()
        self.fetch_dictionaries = fetch_dictionaries
        self.dictionaries = {}
        self.sock = None
        self.buffer = bytearray()
        self.maximum_frame_size = DEFAULT_MAXIMUM_FRAME_SIZE
        self.next_id = 1
        self.pending = {}  # request id -> frames received for it so far (answers may come in any order)
        self.invalidations = []  # the ids of each INVALIDATE pushed since TRACK (PROTOCOL.md, "Tracking")
        self.challenge = None
        self.ready = None

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def connect(self):
        self.buffer = bytearray()
        self.pending = {}
        self.maximum_frame_size = DEFAULT_MAXIMUM_FRAME_SIZE
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            return self.handshake()
        except BaseException:
            self.close()
            raise

    def handshake(self, versions=(VERSION,)):
        """HELLO, CHALLENGE, AUTHENTICATE, READY (PROTOCOL.md §3), all with request id 0."""
        announce = list(self.announce) if self.announce is not None else sorted({1} | self.known_ids)
        self.send_raw(encode_message({"type": "HELLO", "versions": list(versions), "client_name": self.client_name,
                                      "dictionaries": announce}, 0))
        challenge = self._expect_handshake("CHALLENGE")
        self.challenge = challenge
        proof = auth_proof(self.secret, challenge["nonce"]) if self.secret is not None else b""
        self.send_raw(encode_message({"type": "AUTHENTICATE", "proof": proof}, 0))
        ready = self._expect_handshake("READY")
        self.ready = ready
        self.maximum_frame_size = ready["maximum_frame_size"]
        self.known_ids |= set(ready["dictionaries"])
        return ready

    def _expect_handshake(self, name):
        _, request_id, m = self.read_message()
        if m["type"] == "ERROR":
            raise ServerError(m["code"], m["message"], request_id, m.get("versions"))
        if m["type"] != name:
            raise DecodeError(f"expected {name}, got {m['type']}")
        return m

    # Frames --------------------------------------------------------------------------------

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("the server closed the connection"
                                   + (" inside a frame" if self.buffer else ""))
        self.buffer += chunk

    def read_frame(self):
        """-> (type, flags, request_id, payload). Reads until one whole frame is buffered."""
        while True:
            frame = decode_frame(self.buffer, self.maximum_frame_size)
            if frame is not None:
                type_code, flags, request_id, _, payload, used = frame
                del self.buffer[:used]
                return type_code, flags, request_id, payload
            self._fill()

    def read_message(self):
        """-> (flags, request_id, message)."""
        type_code, flags, request_id, payload = self.read_frame()
        if type_code < 0x80:
            raise DecodeError(f"request type 0x{type_code:02x} sent by the server")
        if flags & FLAG_TRACED:
            raise DecodeError("TRACED is only valid on requests")
        return flags, request_id, decode_payload(type_code, payload)

    # Requests ------------------------------------------------------------------------------

    def send(self, message, trace_id=None):
        """Sends one request; returns its request id (ids start at 1, 0 is the handshake's)."""
        request_id = self.next_id
        self.next_id = 1 if self.next_id == 0xFFFFFFFF else self.next_id + 1
        self.pending[request_id] = []
        self.send_raw(encode_message(message, request_id, trace_id=trace_id))
        return request_id

    def receive(self, request_id):
        """The whole answer to `request_id`: its frames up to the one without STREAM_CONTINUES.
        Frames for other requests are kept for their own `receive`. An ERROR raises."""
        while True:
            frames = self.pending.get(request_id)
            if frames and frames[-1][0] & FLAG_STREAM_CONTINUES == 0:
                del self.pending[request_id]
                last = frames[-1][1]
                if last["type"] == "ERROR":
                    raise ServerError(last["code"], last["message"], request_id, last.get("versions"))
                return [m for _, m in frames]
            flags, rid, m = self.read_message()
            if rid == 0 and m["type"] == "INVALIDATE":
                self.invalidations.append(m["ids"])  # a push, not an answer: kept for the caller
                continue
            if rid in self.pending:
                self.pending[rid].append((flags, m))
            elif m["type"] == "ERROR":
                # Id 0, or an id not in flight: a connection-level error; the server closes.
                raise ServerError(m["code"], m["message"], rid, m.get("versions"))
            else:
                raise DecodeError(f"answer for request id {rid}, which is not in flight")

    def request(self, message, trace_id=None):
        return self.receive(self.send(message, trace_id))

    # Dictionaries --------------------------------------------------------------------------

    def dictionary(self, dictionary_id):
        if dictionary_id not in self.dictionaries:
            (m,) = self.request({"type": "GET_DICTIONARY", "dictionary_id": dictionary_id})
            self.dictionaries[dictionary_id] = m["bytes"]
        return self.dictionaries[dictionary_id]

    def record(self, m):
        """A RECORD message as {id, version, updated_at, content}, inflating its body."""
        if m["encoding"] != ENCODING_PLAIN and m["dictionary_id"] and m["dictionary_id"] not in self.dictionaries:
            if not self.fetch_dictionaries:
                raise KeyError(f"dictionary {m['dictionary_id']} is not known")
            self.dictionary(m["dictionary_id"])
        return {"id": m["id"], "version": m["version"], "updated_at": m["updated_at"],
                "content": inflate_body(m, self.dictionaries)}

    # Helpers: one request, its whole answer ------------------------------------------------

    def track(self, mode="broadcast"):
        """TRACK: INVALIDATE pushes for every write (mode "broadcast") or none ("off"); -> the mode."""
        return self.request({"type": "TRACK", "mode": mode})[0]["mode"]

    def ping(self, data=b""):
        return self.request({"type": "PING", "data": data})[0]["data"]

    def get(self, record_id):
        return self.record(self.request({"type": "GET", "id": record_id})[0])

    def put(self, record_id, content, expected_version=None):
        m = self.request({"type": "PUT", "id": record_id, "content": content, "expected_version": expected_version})[0]
        return m["version"]

    def delete(self, record_id, expected_version=None):
        return self.request({"type": "DELETE", "id": record_id, "expected_version": expected_version})[0]["version"]

    def query(self, filter=None, limit=100, offset=0):
        """-> (records, total)."""
        answer = self.request({"type": "QUERY", "filter": filter, "limit": limit, "offset": offset})
        return [self.record(m) for m in answer[:-1]], answer[-1]["total"]

    def export(self, filter=None):
        """-> every matching record as of one moment, ordered by id (EXPORT, a RECORD stream)."""
        answer = self.request({"type": "EXPORT", "filter": filter})
        return [self.record(m) for m in answer[:-1]]

    def search(self, text, filter=None, limit=10, offset=0):
        """-> (hits, RESULT_END); RESULT_END's total counts every match."""
        answer = self.request({"type": "SEARCH", "text": text, "filter": filter, "limit": limit, "offset": offset})
        return answer[:-1], answer[-1]

    def films(self):
        return self.request({"type": "LIST_FILMS"})[0]["films"]

    def themes(self, film=None):
        return self.request({"type": "LIST_THEMES", "film": film})[0]["themes"]

    def stats(self):
        return {s["name"]: s["value"] for s in self.request({"type": "STATS"})[0]["stats"]}


# ---------------------------------------------------------------------------------------------
# Command line

def _content_from_args(args):
    return {"film": args.film, "year": args.year, "director": args.director, "subject": args.subject,
            "reading": args.reading, "source": args.source, "source_kind": args.source_kind,
            "themes": [t for t in (args.themes or "").split(",") if t]}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Talk to epilogue-store over wire protocol v1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7701)
    parser.add_argument("--secret", default=None, help="the store's shared secret (or EPILOGUE_SECRET)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping")
    sub.add_parser("stats")
    sub.add_parser("films")
    p = sub.add_parser("themes"); p.add_argument("--film")
    p = sub.add_parser("get"); p.add_argument("id")
    p = sub.add_parser("delete"); p.add_argument("id"); p.add_argument("--if-version", type=int)
    p = sub.add_parser("query")
    p.add_argument("--film"); p.add_argument("--theme"); p.add_argument("--source-kind"); p.add_argument("--subject")
    p.add_argument("--limit", type=int, default=100); p.add_argument("--offset", type=int, default=0)
    p = sub.add_parser("search"); p.add_argument("text")
    p.add_argument("--film"); p.add_argument("--theme"); p.add_argument("--source-kind"); p.add_argument("--limit", type=int, default=10)
    p = sub.add_parser("put"); p.add_argument("id")
    for name in ("film", "director", "subject", "reading", "source"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--source-kind", required=True, choices=sorted(SOURCE_KINDS))
    p.add_argument("--themes", help="comma-separated")
    p.add_argument("--if-version", type=int)
    args = parser.parse_args(argv)
    import os
    secret = args.secret if args.secret is not None else os.environ.get("EPILOGUE_SECRET")

    def show(value):
        print(json.dumps(value, ensure_ascii=False, sort_keys=True, default=lambda b: b.hex()))

    try:
        with Client(args.host, args.port, secret=secret, dictionaries=None) as store:
            if args.command == "ping":
                show({"pong": store.ping(b"epilogue").decode()})
            elif args.command == "stats":
                show(store.stats())
            elif args.command == "films":
                show(store.films())
            elif args.command == "themes":
                show(store.themes(args.film))
            elif args.command == "get":
                show(store.get(args.id))
            elif args.command == "delete":
                show({"deleted": args.id, "version": store.delete(args.id, args.if_version)})
            elif args.command == "put":
                show({"written": args.id, "version": store.put(args.id, _content_from_args(args), args.if_version)})
            elif args.command == "query":
                f = {"film": args.film, "theme": args.theme, "source_kind": args.source_kind, "subject": args.subject}
                records, total = store.query(f, args.limit, args.offset)
                show({"records": records, "total": total})
            elif args.command == "search":
                f = {"film": args.film, "theme": args.theme, "source_kind": args.source_kind}
                hits, end = store.search(args.text, f, args.limit)
                show({"hits": [{k: v for k, v in h.items() if k != "type"} for h in hits], "returned": end["returned"]})
    except ServerError as e:
        print(f"ERROR {e.name}: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
