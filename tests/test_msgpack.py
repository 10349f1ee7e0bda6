"""The C codec, name checks and hash against Python msgpack, channels and
channels_redis (no Redis needed)."""

from __future__ import annotations

import random
import tracemalloc
import unittest
from collections import OrderedDict

import msgpack
from channels.layers import BaseChannelLayer
from channels_redis.utils import _consistent_hash

from realtime import layer

try:
    from realtime import _redislayer
except ImportError:  # the assertion in CPathTests reports it
    _redislayer = None


def random_value(rng: random.Random, depth: int = 0):
    kinds = ["none", "bool", "int", "float", "str", "bytes"]
    if depth < 3:
        kinds += ["list", "tuple", "dict"]
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        bits = rng.choice([4, 7, 8, 15, 16, 31, 32, 63])
        value = rng.getrandbits(bits)
        return -value if rng.random() < 0.5 else value
    if kind == "float":
        return rng.choice([0.0, -0.0, 1.5, 1e300, -2.5e-300, float("inf"), rng.random()])
    if kind == "str":
        n = rng.choice([0, 1, 31, 32, 255, 256, 256, 70000 if depth == 0 else 300])
        start = rng.randrange(5)
        return ("aé€😀 " * (n // 5 + 2))[start : start + n]
    if kind == "bytes":
        return rng.randbytes(rng.choice([0, 5, 255, 256, 65536 if depth == 0 else 300]))
    n = rng.choice([0, 1, 15, 16, 17])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(n)]
    if kind == "tuple":
        return tuple(random_value(rng, depth + 1) for _ in range(n))
    return {f"k{i}": random_value(rng, depth + 1) for i in range(n)}


class CPathTests(unittest.TestCase):
    def test_c_extension_is_built_and_used(self):
        self.assertTrue(layer.C_AVAILABLE, "realtime._redislayer must be built (make build)")
        self.assertIsNotNone(_redislayer)


@unittest.skipIf(_redislayer is None, "C extension not built")
class EncodeTests(unittest.TestCase):
    def assertSameBytes(self, value):
        self.assertEqual(_redislayer.packb(value), msgpack.packb(value), repr(value)[:200])

    def test_reference_vector(self):
        value = {"a": True, "b": None, "c": {"d": []}}
        self.assertEqual(
            _redislayer.packb(value).hex(" "), "83 a1 61 c3 a1 62 c0 a1 63 81 a1 64 90"
        )

    def test_int_boundaries(self):
        edges = [0, 1, 2**63 - 1, 2**64 - 1, -(2**63)]
        for bits in (5, 7, 8, 15, 16, 31, 32, 63):
            edges += [2**bits - 1, 2**bits, -(2**bits), -(2**bits) - 1]
        for value in edges:
            if -(2**63) <= value < 2**64:
                self.assertSameBytes(value)

    def test_int_out_of_range(self):
        for value in (2**64, -(2**63) - 1, 10**30):
            with self.assertRaises(OverflowError):
                _redislayer.packb({"n": value})
            with self.assertRaises(OverflowError):
                msgpack.packb(value)

    def test_every_type_and_size_class(self):
        values = [
            None,
            True,
            False,
            0.0,
            -1.25,
            1e308,
            float("inf"),
            "",
            "a" * 31,
            "a" * 32,
            "a" * 255,
            "a" * 256,
            "a" * 65535,
            "a" * 65536,
            "é€😀",
            b"",
            b"x" * 255,
            b"x" * 256,
            b"x" * 65536,
            bytearray(b"ab"),
            [],
            [1] * 15,
            [1] * 16,
            [1] * 65536,
            (),
            (1, "a"),
            {},
            {str(i): i for i in range(15)},
            {str(i): i for i in range(16)},
            {str(i): i for i in range(65536)},
            OrderedDict([("b", 1), ("a", 2)]),
            {"nested": [{"x": [b"\x00", None, {"y": -1}]}]},
            True + 0,
            3.0,
        ]
        for value in values:
            self.assertSameBytes(value)

    def test_random_structures(self):
        rng = random.Random(20240521)
        for _ in range(500):
            self.assertSameBytes(random_value(rng))

    def test_subclasses_encode_like_their_base(self):
        class MyStr(str):
            pass

        class MyInt(int):
            pass

        class MyDict(dict):
            pass

        value = MyDict(a=MyStr("x"), b=MyInt(7), c=[MyInt(300)])
        self.assertSameBytes(value)

    def test_unsupported_values_name_their_path(self):
        cases = [
            ({"a": {1, 2}}, "'set'", "message['a']"),
            ({"a": [1, 2, object()]}, "'object'", "message['a'][2]"),
            ({"a": {"b": [None, {"c": 1j}]}}, "'complex'", "message['a']['b'][1]['c']"),
            ({"when": memoryview(b"x")}, "'memoryview'", "message['when']"),
        ]
        for value, type_name, path in cases:
            with self.assertRaises(TypeError) as caught:
                _redislayer.packb(value)
            self.assertIn(type_name, str(caught.exception))
            self.assertIn(path, str(caught.exception))

    def test_keys_must_be_str(self):
        for value in ({1: "a"}, {"a": {b"k": 1}}, {"a": {None: 1}}):
            with self.assertRaises(TypeError) as caught:
                _redislayer.packb(value)
            self.assertIn("keys must be str", str(caught.exception))

    def test_nesting_limit(self):
        deep = []
        for _ in range(600):
            deep = [deep]
        with self.assertRaises(ValueError):
            _redislayer.packb(deep)
        ok = []
        for _ in range(500):
            ok = [ok]
        self.assertSameBytes(ok)

    def test_bad_utf8_str_is_an_error(self):
        with self.assertRaises(UnicodeEncodeError):
            _redislayer.packb({"a": "\ud800"})


@unittest.skipIf(_redislayer is None, "C extension not built")
class DecodeTests(unittest.TestCase):
    def test_round_trip_equals_python_msgpack(self):
        rng = random.Random(7)
        for _ in range(300):
            data = msgpack.packb(random_value(rng))
            self.assertEqual(_redislayer.unpackb(data), msgpack.unpackb(data))

    def test_other_encodings_python_may_produce(self):
        values = [
            msgpack.packb(1.5, use_single_float=True),
            b"\xd0\x05",  # int8 holding a positive value
            b"\xcd\x00\x01",  # uint16 holding a small value
            b"\xc4\x00",
        ]
        for data in values:
            self.assertEqual(_redislayer.unpackb(data), msgpack.unpackb(data))

    def test_truncated_input_is_rejected(self):
        data = msgpack.packb({"type": "x", "list": [1, 2, "three", b"four"], "f": 1.5})
        for cut in range(len(data)):
            with self.assertRaises(ValueError):
                _redislayer.unpackb(data[:cut])

    def test_trailing_bytes_and_reserved_byte(self):
        for data in (b"\xc0\xc0", b"\xc1", b"\x91\xc1", b"\xd4\x01\x02"):
            with self.assertRaises(ValueError):
                _redislayer.unpackb(data)

    def test_map_keys_must_be_str_or_bytes(self):
        with self.assertRaises(ValueError):
            _redislayer.unpackb(b"\x81\x01\x02")
        self.assertEqual(_redislayer.unpackb(b"\x81\xc4\x01k\x01"), {b"k": 1})

    def test_hostile_counts_allocate_nothing_big(self):
        hostile = [
            b"\xdd\xff\xff\xff\xff",  # array of 4G elements, no data
            b"\xdd\x04\x00\x00\x00",  # the 64M-element claim
            b"\xdf\xff\xff\xff\xff",  # map of 4G pairs
            b"\xdb\xff\xff\xff\xff",  # str of 4 GiB
            b"\xc6\xff\xff\xff\xff",  # bin of 4 GiB
            b"\x81\xa1k\xdd\x7f\xff\xff\xff" + b"\xc0" * 64,
        ]
        tracemalloc.start()
        try:
            for data in hostile:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                with self.assertRaises(ValueError):
                    _redislayer.unpackb(data)
                peak = tracemalloc.get_traced_memory()[1] - before
                self.assertLess(peak, 64 * 1024, data[:8])
        finally:
            tracemalloc.stop()

    def test_deep_nesting_is_rejected(self):
        self.assertEqual(
            _redislayer.unpackb(b"\x91" * 511 + b"\xc0"), msgpack.unpackb(b"\x91" * 511 + b"\xc0")
        )
        with self.assertRaises(ValueError):
            _redislayer.unpackb(b"\x91" * 100000 + b"\xc0")
        with self.assertRaises(ValueError):
            _redislayer.unpackb(b"\x81\xa1k" * 5000 + b"\xc0")

    def test_random_garbage_never_crashes(self):
        rng = random.Random(99)
        seed = msgpack.packb({"type": "game.event", "seq": 300, "text": "{}", "l": [1, 2]})
        for _ in range(20000):
            data = bytearray(seed)
            for _ in range(3):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
            try:
                _redislayer.unpackb(bytes(data[: rng.randrange(len(data) + 1)]))
            except (ValueError, UnicodeDecodeError):
                pass


@unittest.skipIf(_redislayer is None, "C extension not built")
class NameTests(unittest.TestCase):
    """Same verdicts and messages as channels' validators."""

    channel_cases = [
        "foo",
        "foo.bar-baz_1",
        "specific.abc!def",
        "specific.abc!",
        "a!",
        "abc\n",
        "abc!\n",
        "abc\n\n",
        "\n",
        "",
        "!abc",
        "a!b!c",
        "a b",
        "a:b",
        "a\nb",
        "a" * 99,
        "a" * 100,
        "x" * 98 + "!",
        "ü",
        "a!ü",
        "٣٤",
        "a!٣",
        "a!ß",
        "abc\t",
        "a$",
        "a!-._Z9",
        "a" * 98 + "\n",
        "a" * 99 + "\n",
    ]
    group_cases = [
        "game_ABCD",
        "g-1.x_y",
        "g\n",
        "g!",
        "",
        "a/b",
        "a" * 99,
        "a" * 100,
        "٣",
        "ü",
        "Åsa",
        "x\n\n",
    ]
    non_str = [None, b"abc", 5, ["a"]]

    @staticmethod
    def verdict(func, *args):
        try:
            func(*args)
        except TypeError as exc:
            return str(exc)
        return True

    def test_channel_names(self):
        ref = BaseChannelLayer()
        for name in self.channel_cases + self.non_str:
            for receive in (False, True):
                self.assertEqual(
                    self.verdict(_redislayer.valid_channel_name, name, receive),
                    self.verdict(ref.require_valid_channel_name, name, receive),
                    (name, receive),
                )

    def test_group_names(self):
        ref = BaseChannelLayer()
        for name in self.group_cases + self.non_str:
            self.assertEqual(
                self.verdict(_redislayer.valid_group_name, name),
                self.verdict(ref.require_valid_group_name, name),
                name,
            )

    def test_random_ascii_names(self):
        ref = BaseChannelLayer()
        rng = random.Random(3)
        alphabet = "abcXYZ019-_.!:/ \n"
        for _ in range(5000):
            name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
            self.assertEqual(
                self.verdict(_redislayer.valid_channel_name, name, False),
                self.verdict(ref.require_valid_channel_name, name, False),
                repr(name),
            )
            self.assertEqual(
                self.verdict(_redislayer.valid_group_name, name),
                self.verdict(ref.require_valid_group_name, name),
                repr(name),
            )


@unittest.skipIf(_redislayer is None, "C extension not built")
class HashTests(unittest.TestCase):
    def test_reference_vectors(self):
        vectors = {("key_one", 2): 1, ("key_two", 2): 0, ("key_one", 10): 6, ("key_two", 10): 4}
        for (name, ring), expected in vectors.items():
            self.assertEqual(_redislayer.consistent_hash(name, ring), expected)

    def test_same_as_channels_redis(self):
        rng = random.Random(11)
        for _ in range(3000):
            name = "".join(rng.choice("abcdefgh.!_-0123é") for _ in range(rng.randrange(1, 40)))
            ring = rng.randrange(1, 17)
            self.assertEqual(
                _redislayer.consistent_hash(name, ring), _consistent_hash(name, ring), name
            )
