"""The golden vectors of docs/protocol-vectors, decoded and re-encoded by this client."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import epilogue_wire as wire  # noqa: E402

VECTORS = os.path.join(HERE, "..", "..", "..", "docs", "protocol-vectors")

CONTENT_A = {"film": "La La Land", "year": 2016, "director": "Damien Chazelle", "subject": "epilogue",
             "reading": "A what-if: the life they did not choose.", "source": "Damien Chazelle, interview",
             "source_kind": "director", "themes": ["what-if", "sacrifice"]}


def vector(name):
    with open(os.path.join(VECTORS, name + ".hex"), encoding="utf-8") as f:
        text = f.read()
    return bytes.fromhex("".join(line.split("#", 1)[0] for line in text.splitlines()))


def frames(data):
    out = []
    while data:
        frame = wire.decode_frame(data)
        if frame is None:
            raise AssertionError("vector ends inside a frame")
        type_code, flags, request_id, trace_id, payload, used = frame
        out.append((flags, request_id, trace_id, wire.decode_payload(type_code, payload)))
        data = data[used:]
    return out


class VectorTests(unittest.TestCase):
    def test_every_vector_decodes_and_reencodes_byte_for_byte(self):
        names = sorted(n[:-4] for n in os.listdir(VECTORS) if n.endswith(".hex"))
        self.assertGreaterEqual(len(names), 30)
        for name in names:
            with self.subTest(name):
                data = vector(name)
                again = b"".join(wire.encode_message(m, rid, flags & wire.FLAG_STREAM_CONTINUES, trace)
                                 for flags, rid, trace, m in frames(data))
                self.assertEqual(again, data)

    def test_every_message_type_has_a_vector(self):
        seen = set()
        for name in os.listdir(VECTORS):
            if name.endswith(".hex"):
                seen |= {m["type"] for _, _, _, m in frames(vector(name[:-4]))}
        self.assertEqual(seen, set(wire.TYPES))

    def test_readme_lists_every_vector(self):
        with open(os.path.join(VECTORS, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for name in os.listdir(VECTORS):
            if name.endswith(".hex"):
                self.assertIn(f"`{name}`", readme)

    def test_handshake_proof_is_the_hmac_of_the_challenge_nonce(self):
        (_, _, _, challenge), = frames(vector("handshake-challenge"))
        (_, _, _, authenticate), = frames(vector("handshake-authenticate"))
        self.assertEqual(challenge["nonce"], bytes(range(32)))
        self.assertEqual(authenticate["proof"], wire.auth_proof("correct horse battery staple", challenge["nonce"]))
        self.assertEqual(authenticate["proof"].hex(), "1af0c35a74027bc2893ee834f5152b6a0477a087c10791e7f350ce1ea922e254")

    def test_record_and_put_carry_content_a(self):
        (_, rid, _, record), = frames(vector("record"))
        self.assertEqual((rid, record["id"], record["version"], record["updated_at"]), (2, "x", 3, 1_700_000_000_000))
        self.assertEqual(wire.inflate_body(record, {}), CONTENT_A)
        (_, _, _, put), = frames(vector("put"))
        self.assertEqual((put["content"], put["expected_version"]), (CONTENT_A, 4))

    def test_streamed_answer_sets_stream_continues_on_all_but_the_last_frame(self):
        got = frames(vector("stream-search"))
        self.assertEqual([m["type"] for _, _, _, m in got], ["HIT", "HIT", "RESULT_END"])
        self.assertEqual([f & wire.FLAG_STREAM_CONTINUES for f, _, _, _ in got], [1, 1, 0])
        self.assertEqual({rid for _, rid, _, _ in got}, {6})

    def test_traced_request_and_version_unsupported_data(self):
        (flags, rid, trace, get), = frames(vector("get-traced"))
        self.assertEqual((flags, rid, trace, get["id"]), (wire.FLAG_TRACED, 2, 0x0102030405060708, "x"))
        (_, _, _, error), = frames(vector("error-version-unsupported"))
        self.assertEqual((error["code"], error["versions"]), (6, [1]))
        (_, _, _, ready), = frames(vector("ready"))
        self.assertEqual((ready["maximum_frame_size"], ready["dictionaries"]), (1 << 20, [1]))

    def test_protocol_md_examples_are_the_golden_vectors_byte_for_byte(self):
        import re
        with open(os.path.join(VECTORS, "..", "PROTOCOL.md"), encoding="utf-8") as f:
            spec = f.read()
        examples = spec[spec.index("## 5. Examples"):]
        known = {n: vector(n[:-4]) for n in os.listdir(VECTORS) if n.endswith(".hex")}
        checked = 0
        for block in re.findall(r"```\n(.*?)```", examples, re.S):
            if "…" in block:
                continue  # elided bytes
            hex_digits = []
            for line in block.splitlines():
                for token in line.split():
                    if not re.fullmatch(r"[0-9a-f]{2}", token):
                        break
                    hex_digits.append(token)
            data = bytes.fromhex("".join(hex_digits))
            # Each block is one vector, or several back to back.
            while data:
                match = next((v for v in known.values() if data.startswith(v)), None)
                self.assertIsNotNone(match, f"§5 example is no golden vector: {data[:16].hex()}…")
                data = data[len(match):]
            checked += 1
        self.assertGreaterEqual(checked, 9)

    def test_decoding_errors(self):
        # Length checked first: 2^32-1 is refused after 4 bytes; 1,048,576 is the largest accepted.
        with self.assertRaises(wire.DecodeError):
            wire.decode_frame(b"\xff\xff\xff\xff")
        self.assertIsNone(wire.decode_frame(b"\x00\x10\x00\x00"))
        with self.assertRaises(wire.DecodeError):
            wire.decode_frame(b"\x00\x10\x00\x01")
        with self.assertRaises(wire.DecodeError):
            wire.decode_payload(0x94, vector("hit")[10:-1])  # ends inside a field
        with self.assertRaises(wire.DecodeError):
            wire.decode_payload(0x92, vector("written")[10:] + b"\x00")  # trailing byte


if __name__ == "__main__":
    unittest.main()
