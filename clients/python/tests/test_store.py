"""The reference client against a real epilogue-store (binary from $EPILOGUE_STORE_BIN), started on
a free port with a fresh data directory, the bundled dataset and a shared secret."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import epilogue_wire as wire  # noqa: E402

SECRET = "python reference client"
CONTENT = {"film": "La La Land", "year": 2016, "director": "Damien Chazelle", "subject": "python test",
           "reading": "A reading written by the reference client.", "source": "A script", "source_kind": "audience",
           "themes": ["what-if"]}


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def unprivileged(args, directory):
    """Run as uid 65534 when the tests run as root: root has capabilities (CAP_NET_ADMIN, say) that a
    deployed store never has, and a bug that needs one must not pass here unseen."""
    if os.geteuid() != 0:
        return args
    if subprocess.run([*NOBODY, "test", "-x", args[0]]).returncode != 0:
        print(f"note: the store runs as root: uid 65534 cannot reach {args[0]}", file=sys.stderr)
        return args
    for root, dirs, files in os.walk(directory):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, 65534, 65534)
    return [*NOBODY, *args]


class Store:
    """One epilogue-store process on a free port; its log goes to a file in the data directory."""

    def __init__(self, extra=()):
        binary = os.environ.get("EPILOGUE_STORE_BIN")
        if not binary:
            raise unittest.SkipTest("EPILOGUE_STORE_BIN is not set (clients/python/run-tests.sh sets it)")
        self.dir = tempfile.mkdtemp(prefix="epilogue-python-")
        self.log_path = os.path.join(self.dir, "store.log")
        self.log = open(self.log_path, "w")
        args = [binary, "--port", "0", "--data-dir", os.path.join(self.dir, "data"), "--fsync", "never",
                "--auth-secret", SECRET, "--metrics-port", "0", *extra]
        port_file = os.path.join(self.dir, "port")
        uses_port_file = "--port-file" in subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
        if uses_port_file:
            args += ["--port-file", port_file]
        self.process = subprocess.Popen(unprivileged(args, self.dir), stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.port = self._wait_for_port(port_file if uses_port_file else None)
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, port_file):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"epilogue-store exited with {self.process.returncode}:\n{self.output()}")
            if port_file and os.path.exists(port_file):
                with open(port_file) as f:
                    match = re.search(r"^port=(\d+)$", f.read(), re.MULTILINE)  # "port=N" lines
                if match:
                    return int(match.group(1))
            # "... address=[IPv4]127.0.0.1/127.0.0.1:PORT [EpilogueServerKit] store listening"
            match = re.search(r"address=\S*:(\d+)\s.*store listening", self.output())
            if match:
                return int(match.group(1))
            time.sleep(0.05)
        raise RuntimeError("epilogue-store did not start listening within 60 s:\n" + self.output())

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class StoreTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = Store()

    @classmethod
    def tearDownClass(cls):
        cls.store.stop()

    def client(self, **kw):
        kw.setdefault("secret", SECRET)
        return wire.Client("127.0.0.1", self.store.port, **kw)

    # Handshake ---------------------------------------------------------------------------

    def test_handshake_with_the_secret_reaches_ready_and_announces_dictionaries(self):
        with self.client() as c:
            self.assertEqual(c.challenge["version"], 1)
            self.assertTrue(c.challenge["auth_required"])
            self.assertEqual(len(c.challenge["nonce"]), 32)
            self.assertEqual(c.ready["maximum_frame_size"], 1 << 20)
            self.assertIn(1, c.ready["dictionaries"])
            self.assertEqual(c.ping(b"hi"), b"hi")

    def test_wrong_or_missing_secret_is_unauthorized(self):
        for secret in ("wrong", None):
            with self.assertRaises(wire.ServerError) as caught:
                self.client(secret=secret).connect()
            self.assertEqual(caught.exception.name, "UNAUTHORIZED")

    def test_version_unsupported_lists_the_servers_versions(self):
        c = self.client()
        c.sock = socket.create_connection(("127.0.0.1", self.store.port), timeout=10)
        with self.assertRaises(wire.ServerError) as caught:
            c.handshake(versions=(7,))
        self.assertEqual((caught.exception.name, caught.exception.versions), ("VERSION_UNSUPPORTED", [1]))
        c.close()

    # Records -----------------------------------------------------------------------------

    def test_put_get_delete_and_versions_stay_monotonic_across_delete(self):
        with self.client() as c:
            self.assertEqual(c.put("py/mono", CONTENT, expected_version=0), 1)
            self.assertEqual(c.put("py/mono", CONTENT, expected_version=1), 2)
            got = c.get("py/mono")
            self.assertEqual((got["version"], got["content"]), (2, CONTENT))
            with self.assertRaises(wire.ServerError) as conflict:
                c.put("py/mono", CONTENT, expected_version=1)
            self.assertEqual(conflict.exception.name, "CONFLICT")
            self.assertEqual(c.delete("py/mono", expected_version=2), 2)
            with self.assertRaises(wire.ServerError) as missing:
                c.get("py/mono")
            self.assertEqual(missing.exception.name, "NOT_FOUND")
            # NOT_FOUND wins over CONFLICT; a re-created record continues at version 3.
            with self.assertRaises(wire.ServerError) as both:
                c.delete("py/mono", expected_version=9)
            self.assertEqual(both.exception.name, "NOT_FOUND")
            self.assertEqual(c.put("py/mono", CONTENT, expected_version=0), 3)

    def test_invalid_record_names_the_field(self):
        with self.client() as c:
            with self.assertRaises(wire.ServerError) as caught:
                c.put("py/bad", dict(CONTENT, year=1800))
            self.assertEqual(caught.exception.name, "INVALID_RECORD")
            self.assertTrue(caught.exception.message.startswith("year:"), caught.exception.message)
            with self.assertRaises(wire.ServerError) as nul:
                c.put("py/bad", dict(CONTENT, film="a\x00b"))
            self.assertTrue(nul.exception.message.startswith("film:"), nul.exception.message)

    def test_records_arrive_compressed_with_dictionary_1_and_inflate_after_get_dictionary(self):
        with self.client(dictionaries=[1]) as c:
            frames = c.request({"type": "GET", "id": "la-la-land/dreams-cost-the-romance"})
            self.assertEqual((frames[0]["encoding"], frames[0]["dictionary_id"]), (wire.ENCODING_ZLIB, 1))
            record = c.record(frames[0])  # fetches dictionary 1 with GET_DICTIONARY
            self.assertEqual(record["content"]["film"], "La La Land")
            self.assertIn(1, c.dictionaries)
        with self.client(dictionaries=[]) as plain:
            frames = plain.request({"type": "GET", "id": "la-la-land/dreams-cost-the-romance"})
            self.assertEqual(frames[0]["encoding"], wire.ENCODING_PLAIN)
            self.assertEqual(plain.record(frames[0])["content"], record["content"])

    # Streams -----------------------------------------------------------------------------

    def test_query_streams_records_in_id_order_and_pages(self):
        with self.client() as c:
            first, total = c.query({"film": "La La Land"}, limit=3)
            self.assertEqual(len(first), 3)
            self.assertGreater(total, 3)
            ids = [r["id"] for r in first]
            self.assertEqual(ids, sorted(ids))
            second, _ = c.query({"film": "La La Land"}, limit=3, offset=2)
            self.assertEqual(second[0]["id"], ids[2])
            answer = c.request({"type": "QUERY", "filter": {"film": "La La Land"}, "limit": 2})
            self.assertEqual([m["type"] for m in answer], ["RECORD", "RECORD", "RESULT_END"])

    def test_search_streams_hits_ranked_by_bm25(self):
        with self.client() as c:
            hits, end = c.search("dream", limit=5)
            self.assertGreater(len(hits), 0)
            self.assertEqual(end["returned"], len(hits))
            scores = [h["score"] for h in hits]
            self.assertEqual(scores, sorted(scores))
            self.assertTrue(all(s < 0 for s in scores))
            self.assertTrue(any("[" in h["snippet"] for h in hits))
            none, end = c.search("zzzqqxnotaword")
            self.assertEqual((none, end["returned"]), ([], 0))

    def test_films_themes_and_stats(self):
        with self.client() as c:
            films = c.films()
            self.assertEqual([f["film"] for f in films], sorted(f["film"] for f in films))
            themes = c.themes()
            counts = [(-t["records"], t["theme"]) for t in themes]
            self.assertEqual(counts, sorted(counts))
            stats = c.stats()
            for name in ("records", "raw_bytes", "stored_bytes", "log_bytes", "dictionary_id", "connections"):
                self.assertIn(name, stats)

    def test_pipelined_requests_are_matched_by_request_id(self):
        with self.client() as c:
            ids = [c.send({"type": "PING", "data": str(n).encode()}) for n in range(20)]
            write = c.send({"type": "PUT", "id": "py/pipelined", "content": CONTENT})
            for n, rid in reversed(list(enumerate(ids))):
                self.assertEqual(c.receive(rid)[0]["data"], str(n).encode())
            self.assertEqual(c.receive(write)[0]["type"], "WRITTEN")

    def test_track_pushes_every_write_to_tracking_connections_before_the_writers_answer(self):
        with self.client() as watcher, self.client() as writer:
            self.assertEqual(watcher.track(), "broadcast")
            writer.put("py/tracked", CONTENT)
            _, rid, m = watcher.read_message()
            self.assertEqual((rid, m), (0, {"type": "INVALIDATE", "ids": ["py/tracked"]}))
            # On the writer's own tracking connection the push comes before the answer.
            self.assertEqual(writer.track(), "broadcast")
            self.assertEqual(writer.delete("py/tracked"), 1)
            self.assertEqual(writer.invalidations, [["py/tracked"]])
            self.assertEqual(watcher.track("off"), "off")
            self.assertEqual(watcher.invalidations, [["py/tracked"]])  # the DELETE's, read before TRACKING

    # Errors and the rules of PROTOCOL.md §1 -----------------------------------------------

    def test_unknown_request_type_is_unknown_message_and_the_connection_goes_on(self):
        with self.client() as c:
            c.pending[41] = []
            c.send_raw(wire.encode_frame(0x7E, 41, b"\x01\x02"))
            with self.assertRaises(wire.ServerError) as caught:
                c.receive(41)
            self.assertEqual((caught.exception.name, caught.exception.request_id), ("UNKNOWN_MESSAGE", 41))
            self.assertEqual(c.ping(b"still"), b"still")

    def fatal(self, data):
        """Sends `data` after the handshake: -> (error message, request id), and checks the close."""
        with self.client() as c:
            c.send_raw(data)
            _, rid, m = c.read_message()
            self.assertEqual(m["type"], "ERROR")
            with self.assertRaises(wire.ConnectionClosed):
                c.read_frame()
            return m, rid

    def test_request_id_zero_after_ready_is_a_protocol_violation(self):
        m, rid = self.fatal(wire.encode_message({"type": "PING", "data": b""}, 0))
        self.assertEqual((wire.ERROR_CODES[m["code"]], rid), ("PROTOCOL_VIOLATION", 0))

    def test_unknown_flags_answer_with_the_frames_request_id(self):
        frame = bytearray(wire.encode_message({"type": "LIST_FILMS"}, 77))
        frame[5] = 0x40
        m, rid = self.fatal(bytes(frame))
        self.assertEqual((wire.ERROR_CODES[m["code"]], rid), ("PROTOCOL_VIOLATION", 77))

    def test_frame_over_the_maximum_is_too_large_with_request_id_zero(self):
        m, rid = self.fatal(struct.pack(">IBBI", (1 << 20) + 1, 0x10, 0, 5))
        self.assertEqual((wire.ERROR_CODES[m["code"]], rid), ("TOO_LARGE", 0))

    def test_frame_of_exactly_the_maximum_is_accepted(self):
        with self.client() as c:
            data = bytes((1 << 20) - wire.HEADER_SIZE - 4)  # PING's bytes count takes 4
            self.assertEqual(len(c.ping(data)), len(data))

    def test_second_hello_after_ready_is_a_protocol_violation(self):
        m, rid = self.fatal(wire.encode_message({"type": "HELLO", "client_name": "again"}, 0))
        self.assertEqual(wire.ERROR_CODES[m["code"]], "PROTOCOL_VIOLATION")

    def test_command_line_gets_a_record_as_json(self):
        env = dict(os.environ, EPILOGUE_SECRET=SECRET)
        out = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "epilogue_wire.py"), "--port", str(self.store.port),
                              "get", "la-la-land/dreams-cost-the-romance"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('"film": "La La Land"', out.stdout)

    def test_get_dictionary_of_an_unknown_id_is_not_found(self):
        with self.client() as c:
            with self.assertRaises(wire.ServerError) as caught:
                c.dictionary(999)
            self.assertEqual(caught.exception.name, "NOT_FOUND")


class TrainedDictionaryTests(unittest.TestCase):
    """After training (1,000 live records), a client that announces the trained id gets bodies as
    raw deflate (encoding 2) and inflates them with the dictionary GET_DICTIONARY returns."""

    def test_trained_dictionary_bodies_travel_compressed_and_inflate(self):
        store = Store()
        try:
            with wire.Client("127.0.0.1", store.port, secret=SECRET) as c:
                for n in range(0, 1100, 100):
                    for k in range(n, n + 100):
                        c.send({"type": "PUT", "id": f"py/train/{k:05d}",
                                "content": dict(CONTENT, reading=f"Reading {k}: the dream ends where the song begins.")})
                    while c.pending:
                        c.receive(next(iter(c.pending)))
                deadline = time.monotonic() + 60
                while c.stats()["dictionary_id"] < 1000 and time.monotonic() < deadline:
                    time.sleep(0.2)
                trained = c.stats()["dictionary_id"]
                self.assertGreaterEqual(trained, 1000, "no dictionary was trained")
            # The compaction after training re-compresses every body; wait for it.
            deadline = time.monotonic() + 60
            while True:
                with wire.Client("127.0.0.1", store.port, secret=SECRET, dictionaries=[1, trained]) as c:
                    self.assertIn(trained, c.ready["dictionaries"])
                    (m,) = c.request({"type": "GET", "id": "py/train/00007"})
                    if m["encoding"] == wire.ENCODING_DEFLATE or time.monotonic() > deadline:
                        break
                time.sleep(0.2)
            self.assertEqual((m["encoding"], m["dictionary_id"]), (wire.ENCODING_DEFLATE, trained))
            with wire.Client("127.0.0.1", store.port, secret=SECRET, dictionaries=[1, trained]) as c:
                (m,) = c.request({"type": "GET", "id": "py/train/00007"})
                record = c.record(m)
                self.assertTrue(record["content"]["reading"].startswith("Reading 7:"))
                self.assertIn(trained, c.dictionaries)
        finally:
            store.stop()


if __name__ == "__main__":
    unittest.main()
