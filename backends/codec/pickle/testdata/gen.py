#!/usr/bin/python3
"""Write golden.jsonl, the expected output of CPython's C pickler for the
pickle tests. Run it with CPython 3.11 from any directory:

    python3 gen.py            # rewrites golden.jsonl next to this file

Each line of golden.jsonl is one JSON object:

    {"kind": "encode", "name": ..., "proto": P, "value": DESC,
     "hex": pickle.dumps(value, P).hex()}          output up to 4 KiB
     "len": N, "sha256": HEX}                      larger output
    {"kind": "decode", "name": ..., "hex": PICKLE, "value": DESC}
    {"kind": "decode", "name": ..., "hex": PICKLE, "error": SUBSTRING}

Encode values are rebuilt from distinct objects before pickling, so that the
pickle holds no memo reference (BINGET), which the Go encoder never writes;
gen.py checks that. Decode cases are pickles Python writes that the Go
encoder would not (shared objects, other protocols) or that Decode must
refuse (the error SUBSTRING must appear in Go's error).

DESC describes a Python value so that Go can rebuild it exactly:
null/true/false, a JSON integer (int), a JSON string (str), a JSON array
(list), {"tuple": [...]}, {"dict": [[key, DESC], ...]}, {"float": BITS}
with BITS the 16 hex digits of the IEEE-754 double, {"bytes": HEX}, and for
large values {"repeat": S, "n": N, "suffix": S2} (the str S*N+S2),
{"brepeat": HEX, "n": N, "suffix": HEX} (the same for bytes),
{"range": [START, STOP, STEP]} (a list of ints) and {"dictrange": N}
(the dict {"k0": 0, ..., "k<N-1>": N-1}).
"""

import hashlib
import json
import os
import pickle
import pickletools
import struct
import sys

assert sys.version_info[:2] == (3, 11), sys.version

MAX_HEX = 4096  # outputs longer than this are stored as sha256 and length


def bits(f):
    return struct.pack('>d', f).hex()


def run_of(s):
    n = 1
    while n < len(s) and s[n] == s[0]:
        n += 1
    return n


def desc(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return {"float": bits(v)}
    if isinstance(v, str):
        if len(v) > 64 and run_of(v) >= 64:
            n = run_of(v)
            d = {"repeat": v[0], "n": n}
            if v[n:]:
                d["suffix"] = v[n:]
            return d
        return v
    if isinstance(v, bytes):
        if len(v) > 64 and run_of(v) >= 64:
            n = run_of(v)
            d = {"brepeat": v[:1].hex(), "n": n}
            if v[n:]:
                d["suffix"] = v[n:].hex()
            return d
        return {"bytes": v.hex()}
    if isinstance(v, tuple):
        return {"tuple": [desc(x) for x in v]}
    if isinstance(v, list):
        if (len(v) > 16 and all(type(x) is int for x in v)
                and v == list(range(v[0], v[-1] + 1, v[1] - v[0] or 1))):
            return {"range": [v[0], v[-1] + 1, v[1] - v[0]]}
        return [desc(x) for x in v]
    if isinstance(v, dict):
        if len(v) > 16 and v == dictrange(len(v)):
            return {"dictrange": len(v)}
        return {"dict": [[k, desc(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def dictrange(n):
    return {'k%d' % i: i for i in range(n)}


def fresh(v):
    """A copy of v made of distinct objects, as the Go encoder sees values.
    Strings and bytes of one character or none stay shared singletons in
    CPython; check_no_memo_refs catches cases that repeat them."""
    if isinstance(v, str):
        return v.encode('utf-8').decode('utf-8')
    if isinstance(v, bytes):
        return bytes(bytearray(v))
    if isinstance(v, tuple):
        return tuple(fresh(x) for x in v)
    if isinstance(v, list):
        return [fresh(x) for x in v]
    if isinstance(v, dict):
        return {fresh(k): fresh(x) for k, x in v.items()}
    return v


def check_no_memo_refs(name, data):
    for op, arg, pos in pickletools.genops(data):
        if op.name in ('GET', 'BINGET', 'LONG_BINGET'):
            raise SystemExit('%s: the pickle shares an object (%s at %d); '
                             'use distinct values' % (name, op.name, pos))


def has_bytes(v):
    if isinstance(v, bytes):
        return True
    if isinstance(v, (list, tuple)):
        return any(has_bytes(x) for x in v)
    if isinstance(v, dict):
        return any(has_bytes(x) for x in v.values())
    return False


E_ADD = {'status': 'SUCCESS', 'result': 5, 'traceback': None, 'children': [],
         'date_done': '2026-11-25T22:49:58.802363',
         'task_id': '249a0084-73b1-47fb-bf83-7a87318124a0'}

EXCEPTION = {'exc_type': 'ValueError', 'exc_message': ('boom!',), 'exc_module': 'builtins'}

# Bytes given in the references (celery-db-backend.md §4.1 at protocol 5,
# celery-redis-backend.md §1.3 E/add at protocol 4); the pid one is cut
# short there.
REFERENCE = [
    (5, 5, '80054B052E'),
    (5, 'ok', '80059506000000000000008C026F6B942E'),
    (5, [0, 2, 4], '8005950B000000000000005D94284B004B024B04652E'),
    (5, {'done': 1, 'total': 2},
     '80059518000000000000007D94288C04646F6E65944B018C05746F74616C944B02752E'),
    (5, {'pid': 27066, 'hostname': 'w2@vm'}, '80059521'),
    (5, EXCEPTION,
     '8005954D000000000000007D94288C086578635F74797065948C0A56616C75654572726F72'
     '948C0B6578635F6D657373616765948C05626F6F6D219485948C0A6578635F6D6F64756C65'
     '948C086275696C74696E7394752E'),
    (4, E_ADD, (b'\x80\x04\x95\x97\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x06status\x94\x8c'
                b'\x07SUCCESS\x94\x8c\x06result\x94K\x05\x8c\ttraceback\x94N\x8c\x08children'
                b'\x94]\x94\x8c\tdate_done\x94\x8c\x1a2026-11-25T22:49:58.802363\x94\x8c\x07'
                b'task_id\x94\x8c$249a0084-73b1-47fb-bf83-7a87318124a0\x94u.').hex()),
]


def encode_cases():
    c = [
        ('five', 5), ('ok', 'ok'), ('list024', [0, 2, 4]),
        ('progress', {'done': 1, 'total': 2}),
        ('started', {'pid': 27066, 'hostname': 'w2@vm'}),
        ('exception', EXCEPTION), ('e_add', E_ADD),
        ('failure_meta', {'status': 'FAILURE', 'result': EXCEPTION,
                          'traceback': 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom!\n',
                          'children': [], 'date_done': '2026-11-25T22:47:15.896279',
                          'group_id': '5cc18df3-b9d0-46f6-9edf-a36c65135289',
                          'task_id': '87b9acbc-0428-4b4c-b91a-54f9cf1c50d2'}),
        ('none', None), ('true', True), ('false', False),
    ]
    ints = [0, 1, 127, 128, 255, 256, 1000, 65535, 65536, 2**31 - 1, 2**31, -1, -2,
            -128, -129, -255, -256, -257, -32768, -65536, -2**31, -2**31 - 1,
            2**32, 2**32 - 1, -2**32, 2**39, -2**39, 2**40, 2**47, -2**47, -2**47 - 1,
            2**55, -2**55, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 0x7fffffffffff, 1234567890123]
    c += [('int%d' % i, v) for i, v in enumerate(ints)]
    floats = [0.0, -0.0, 0.1, 1.5, -2.5e-7, 1e16, 1e308, 5e-324, 1.7976931348623157e308,
              float('inf'), float('-inf'), float('nan'), 123456789.0]
    c += [('float%d' % i, v) for i, v in enumerate(floats)]
    c += [
        ('str_empty', ''), ('str_unicode', 'é€😀'), ('str_ascii', 'hello world'),
        ('str_255', 'x' * 255), ('str_256', 'x' * 256), ('str_1024', 'x' * 1024),
        ('str_e200', 'é' * 200), ('str_127e', 'é' * 127 + 'a'), ('str_128e', 'é' * 128),
        ('str_65535', 'x' * 65535), ('str_65536', 'x' * 65536), ('str_70000', 'x' * 70000),
        ('str_control', '\x00\n\r\t"\\\x7f'),
        ('bytes_empty', b''), ('bytes_3', b'\x00\x01\xff'), ('bytes_255', b'b' * 255),
        ('bytes_256', b'b' * 256), ('bytes_70000', b'y' * 70000),
        ('tuple0', ()), ('tuple1', (1,)), ('tuple2', (1, 'ab')), ('tuple3', (1, 2.5, None)),
        ('tuple4', (1, 2, 3, 4)), ('tuple5', (1, 'two', (3,), [4], {'five': 5})),
        ('tuple_nested', ((1,), (2, (3, ())), ((), ()))),
        ('list0', []), ('list1', [1]), ('list2', [1, 2]), ('list3', ['ab', 'cd', 'ef']),
        ('list4', [None, True, False, 0]), ('list5', [[], [1], [1, 2], (), {}]),
        ('list_nested', [[[['deep']]]]),
        ('list999', list(range(999))), ('list1000', list(range(1000))),
        ('list1001', list(range(1001))), ('list1500', list(range(1500))),
        ('list2000', list(range(2000))), ('list2001', list(range(2001))),
        ('list_frames', list(range(100000))),
        ('list_bigstrs', ['a' * 40000 + str(i) for i in range(5)]),
        ('list_payloads', ['ab', b'\x00' * 70000, 'cd', 'e' * 70000, 42, ('z' * 65536,)]),
        ('tuple_big_str', ('z' * 70000,)), ('tuple_big_str2', ('z' * 70000, 'zz')),
        ('dict0', {}), ('dict1', {'a': 1}), ('dict2', {'ab': 1, 'cd': [2]}),
        ('dict5', {'k1': None, 'k2': (1, 2), 'k3': {'x1': 'y1'}, 'k4': [1.5], 'k5': b'raw'}),
        ('dict_unicode_keys', {'é': 1, '€uro': 2, '😀': 3}),
        ('dict999', dictrange(999)), ('dict1000', dictrange(1000)),
        ('dict1001', dictrange(1001)), ('dict1500', dictrange(1500)),
        ('dict2000', dictrange(2000)),
        ('memo300', ['s%d' % i for i in range(300)]),
        ('nested', {'list': [1, [2, (3, 4)], {'x2': []}], 'tuple': ((), (1,), [2, 3]),
                    'dict': {'a1': {'b1': {'c1': {}}}}, 'empty': ''}),
    ]
    return c


def decode_cases():
    out = []

    def ok(name, data, value):
        assert pickle.loads(data) == value or value != value, name
        out.append({"kind": "decode", "name": name, "hex": data.hex(), "value": desc(value)})

    def bad(name, data, substring):
        out.append({"kind": "decode", "name": name, "hex": data.hex(), "error": substring})

    s = 'shared'
    t = (1, 'ab')
    lst = [1, 2]
    strs = ['s%d' % i for i in range(300)]
    for p in (2, 3, 4, 5):
        ok('shared_str_p%d' % p, pickle.dumps([s, s, s], p), [s, s, s])
        ok('shared_tuple_p%d' % p, pickle.dumps({'x': t, 'y': t}, p), {'x': t, 'y': t})
        ok('shared_list_p%d' % p, pickle.dumps([lst, lst], p), [lst, lst])
        ok('long_binget_p%d' % p, pickle.dumps(strs + [strs[299], strs[0]], p),
           strs + [strs[299], strs[0]])
        ok('singletons_p%d' % p, pickle.dumps(['', '', 'a', 'a', (), ()], p),
           ['', '', 'a', 'a', (), ()])
        bad('exception_p%d' % p, pickle.dumps(ValueError('boom', 42), p),
            'STACK_GLOBAL' if p >= 4 else 'GLOBAL')
        rec = []
        rec.append(rec)
        bad('recursive_list_p%d' % p, pickle.dumps(rec, p), 'recursive')
        rd = {}
        rd['self'] = rd
        bad('recursive_dict_p%d' % p, pickle.dumps(rd, p), 'recursive')
        rt = ([],)
        rt[0].append(rt)
        bad('recursive_tuple_p%d' % p, pickle.dumps(rt, p), 'recursive')
        bad('int_key_p%d' % p, pickle.dumps({1: 2}, p), 'dict key')
        bad('bigint_p%d' % p, pickle.dumps(2**64, p), 'int64')
    ok('proto1', pickle.dumps([1, 'ab', (2, 3.5), {'k1': None}], 1),
       [1, 'ab', (2, 3.5), {'k1': None}])
    ok('bytearray_p5', pickle.dumps(bytearray(b'abc'), 5), b'abc')
    ok('dup_keys', b'\x80\x04}(\x8c\x01a\x94K\x01\x8c\x01b\x94K\x02\x8c\x01a\x94K\x03u.',
       {'a': 3, 'b': 2})
    ok('long4', b'\x80\x02\x8b\x02\x00\x00\x00\x00\x01.', 256)
    ok('int64min_long1', pickle.dumps(-2**63, 5), -2**63)
    bad('proto0', pickle.dumps(5, 0), 'INT')
    bad('set_p4', pickle.dumps({1, 2}, 4), 'EMPTY_SET')
    bad('set_p2', pickle.dumps({1, 2}, 2), 'GLOBAL')
    bad('frozenset_p4', pickle.dumps(frozenset(), 4), 'FROZENSET')
    bad('bytes_p2', pickle.dumps(b'abc', 2), 'GLOBAL')
    bad('proto6', b'\x80\x06N.', 'protocol')
    bad('truncated_frame', pickle.dumps('hello', 4)[:-3], 'frame')
    bad('truncated', pickle.dumps('x' * 300, 3)[:-3], 'truncated')
    bad('no_stop', b'\x80\x04N', 'STOP')
    bad('empty', b'', 'STOP')
    return out


def main():
    lines = []
    for proto, value, want in REFERENCE:
        got = pickle.dumps(fresh(value), proto).hex().upper()
        assert got.startswith(want.upper()), (value, got, want)
    for name, value in encode_cases():
        for proto in (2, 3, 4, 5):
            if proto == 2 and has_bytes(value):
                continue
            v = fresh(value)
            data = pickle.dumps(v, proto)
            check_no_memo_refs('%s/%d' % (name, proto), data)
            assert pickle.loads(data) == value or value != value
            line = {"kind": "encode", "name": name, "proto": proto, "value": desc(v)}
            if len(data) <= MAX_HEX:
                line["hex"] = data.hex()
            else:
                line["len"] = len(data)
                line["sha256"] = hashlib.sha256(data).hexdigest()
            lines.append(line)
    lines += decode_cases()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden.jsonl')
    with open(path, 'w') as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=True) + '\n')
    print('wrote %d lines to %s' % (len(lines), path))


if __name__ == '__main__':
    main()
