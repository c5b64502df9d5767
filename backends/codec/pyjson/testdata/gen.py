#!/usr/bin/python3
"""Write golden.jsonl, the expected output of Python's json module for the
pyjson tests. Run it with CPython 3.11 from this directory:

    python3 gen.py            # rewrites golden.jsonl next to this file

Each line of golden.jsonl is one JSON object:

    {"kind": "encode", "name": ..., "value": DESC, "json": json.dumps(value)}
    {"kind": "decode", "name": ..., "input": TEXT | "input_hex": HEX,
     "value": DESC}                   json.loads(input) succeeded
     "error": MESSAGE}                json.loads raised
     "unsupported": true, ...}        Python accepts it; pyjson rejects it
    {"kind": "floats", "pairs": [[BITS, repr(float)], ...]}

DESC describes a Python value so that Go can rebuild it exactly:
null/true/false, a JSON integer (int), a JSON string (str), a JSON array
(list), {"tuple": [...]}, {"dict": [[key, DESC], ...]}, {"float": BITS}
with BITS the 16 hex digits of the IEEE-754 double, {"bytes": HEX}, and
{"repeat": S, "n": N} for the str S*N.
"""

import json
import math
import os
import random
import struct
import sys

assert sys.version_info[:2] == (3, 11), sys.version


def bits(f):
    return struct.pack('>Q', struct.unpack('>Q', struct.pack('>d', f))[0]).hex()


def desc(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return {"float": bits(v)}
    if isinstance(v, str):
        if len(v) > 64 and v == v[0] * len(v):
            return {"repeat": v[0], "n": len(v)}
        return v
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, tuple):
        return {"tuple": [desc(x) for x in v]}
    if isinstance(v, list):
        return [desc(x) for x in v]
    if isinstance(v, dict):
        return {"dict": [[k, desc(x)] for k, x in v.items()]}
    raise TypeError(type(v))


# Values stored by Celery, as captured in celery-redis-backend.md §1.3.
REFERENCE = [
    b'{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T22:47:09.912656", "task_id": "5fea23cf-4557-4b85-b5d8-50aa181cb090"}',
    b'{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["boom", 42], "exc_module": "builtins"}, "traceback": "Traceback (most recent call last):\\n  File \\"<dist-packages>/celery/app/trace.py\\", line 451, in trace_task\\n    R = retval = fun(*args, **kwargs)\\n                 ^^^^^^^^^^^^^^^^^^^^\\n  File \\"<dist-packages>/celery/app/trace.py\\", line 734, in __protected_call__\\n    return self.run(*args, **kwargs)\\n           ^^^^^^^^^^^^^^^^^^^^^^^^^\\n  File \\"<lab>/tasks.py\\", line 26, in boom\\n    raise ValueError(\'boom\', 42)\\nValueError: (\'boom\', 42)\\n", "children": [], "date_done": "2026-11-25T22:47:15.896279", "task_id": "87b9acbc-0428-4b4c-b91a-54f9cf1c50d2"}',
    b'{"status": "SUCCESS", "result": "done", "traceback": null, "children": [], "date_done": "2026-11-25T22:47:18.947656", "task_id": "43bdbe30-8631-4068-a03d-681642368c13"}',
    b'{"status": "SUCCESS", "result": {"naive_dt": "2024-01-02T03:04:05.678901", "utc_dt": "2024-01-02T03:04:05Z", "dec": "1.5", "uuid": "00000000-0000-0000-0000-000000000001", "uni": "\\u00e9\\u20ac", "tuple": [1, 2], "none": null}, "traceback": null, "children": [], "date_done": "2026-11-25T22:47:33.663394", "task_id": "91781cb4-3fdc-45fe-8284-e7851af8558f"}',
    b'{"status": "SUCCESS", "result": "fcc679ae-beeb-4fd5-b409-d93320ae7d06", "traceback": null, "children": [[["fcc679ae-beeb-4fd5-b409-d93320ae7d06", null], null]], "date_done": "2026-11-25T22:47:27.306374", "task_id": "d143acad-84ea-424d-be7a-459d549d377d"}',
    b'{"status": "SUCCESS", "result": 2, "traceback": null, "children": [], "date_done": "2026-11-25T22:47:27.309051", "parent_id": "d143acad-84ea-424d-be7a-459d549d377d", "task_id": "fcc679ae-beeb-4fd5-b409-d93320ae7d06"}',
    b'{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T22:49:01.794240", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "worker": "w1@lab", "retries": 0, "queue": "celery", "task_id": "55a6471e-556e-4361-8781-e33dc7c9b53d"}',
    b'{"status": "STARTED", "result": {"pid": 30903, "hostname": "w1@lab"}, "traceback": null, "children": [], "date_done": null, "task_id": "58777bbd-abbc-44d3-a04a-1897956a89de"}',
    b'{"status": "SUCCESS", "result": 2, "traceback": null, "children": [], "date_done": "2026-11-25T22:52:04.900547", "group_id": "5cc18df3-b9d0-46f6-9edf-a36c65135289", "task_id": "7ee41524-7588-4f3c-a81c-d34974b93436"}',
    b'[1, "7ee41524-7588-4f3c-a81c-d34974b93436", "SUCCESS", 2]',
    b'{"status": "FAILURE", "result": {"exc_type": "ChordError", "exc_message": ["Dependency 73391918-eb51-4f1d-a5e4-a401a9746de8 raised ValueError(\'boom\', 42)"], "exc_module": "celery.exceptions"}, "traceback": null, "children": [], "date_done": "2026-11-25T22:52:12.203551", "task_id": "98ba8ad3-0f12-4a9e-992b-b5a1f329445d"}',
    b'{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T22:53:14.891238+00:00", "task_id": "5fea23cf-4557-4b85-b5d8-50aa181cb090"}',
    b'{"result": [["5cc18df3-b9d0-46f6-9edf-a36c65135289", null], [[["7ee41524-7588-4f3c-a81c-d34974b93436", null], null], [["c2c44bc7-789b-4506-bca3-064933976af9", null], null]]]}',
]

FLOATS = [
    0.0, -0.0, 0.1, 0.2, 0.30000000000000004, 1.0, -1.0, 1.5, 2.5, 100.0,
    1e-05, 1e-4, 0.0001, 0.00012345, 9.999999999999999e-05, 1e16, 1e15,
    9999999999999998.0, 1.0000000000000002, 123456789.0, 1234567890123456.0,
    12345678901234567.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
    -2.5e-7, 1e22, 1e23, 2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 1 / 3, 2 / 3, math.pi,
    math.e, 1e100, 1e-100, 123.456, 0.5, 3.0e-5, 4.35, 1.1, 1e21, 9.5,
    float('inf'), float('-inf'), float('nan'),
]

STRINGS = [
    '', 'ok', 'SUCCESS', 'quote " and backslash \\', 'line\nbreak\r\n\ttab',
    '\b\f', ''.join(chr(c) for c in range(0x20)) + '\x7f', '/ < > & \' ',
    'é€😀', '\u2028\u2029', '\ufffd', '\uffff', '\U0010ffff', '\x80\xff',
    'naïve café', '中文字符', 'mixed é "quoted" \\ 😀 end',
    'x' * 1024,
]


def encode_cases():
    cases = []
    for i, raw in enumerate(REFERENCE):
        v = json.loads(raw)
        assert json.dumps(v).encode() == raw, raw
        cases.append(('reference%d' % i, v))
    cases.append(('big', {"status": "SUCCESS", "result": 'x' * 1024, "traceback": None,
                          "children": [], "date_done": "2026-11-25T22:47:13.049032",
                          "task_id": "100981c0-07a3-4bbe-a84b-509ff6f6c177"}))
    cases += [
        ('none', None), ('true', True), ('false', False),
        ('zero', 0), ('one', 1), ('minus', -1), ('int32max', 2**31 - 1),
        ('int32over', 2**31), ('int64max', 2**63 - 1), ('int64min', -2**63),
        ('pid', 27066),
    ]
    for i, f in enumerate(FLOATS):
        cases.append(('float%d' % i, f))
    for i, s in enumerate(STRINGS):
        cases.append(('string%d' % i, s))
    cases += [
        ('empty_list', []), ('empty_dict', {}), ('empty_tuple', ()),
        ('tuple1', (1,)), ('tuple2', ('boom', 42)), ('list5', [1, 2.5, 'three', None, True]),
        ('nested', {'a': [1, {'b': (2, 3)}, []], 'c': {'d': {}}, 'é': '€'}),
        ('deep', [[[[[['deep']]]]]]),
        ('exception', {'exc_type': 'ValueError', 'exc_message': ('boom!',), 'exc_module': 'builtins'}),
        ('progress', {'done': 1, 'total': 2}),
        ('started', {'pid': 27066, 'hostname': 'w2@vm'}),
        ('floats', [0.1, 1e-05, 1e16, 123456789.0, -0.0, 5e-324, 1.7976931348623157e308,
                    float('nan'), float('inf'), float('-inf')]),
    ]
    return cases


DECODE_INPUTS = [
    ('ws', b' \t\n\r[1 , 2 ]\n'),
    ('ws_object', b'{ "a" : 1 ,\n "b":[ ] }'),
    ('escapes', b'"\\/\\b\\f\\n\\r\\t\\"\\\\"'),
    ('unicode_escapes', b'"\\u00E9\\u20aC\\u0041"'),
    ('surrogate_pair', b'"\\ud83d\\ude00"'),
    ('surrogate_upper', b'"\\uD83D\\uDE00"'),
    ('lone_high', b'"\\ud83d"'),
    ('lone_low', b'"\\ude00x"'),
    ('reversed_pair', b'"\\ude00\\ud83d"'),
    ('high_then_other', b'"\\ud83d\\u0041"'),
    ('raw_utf8', '"é€😀"'.encode()),
    ('bom', b'\xef\xbb\xbf{"a": []}'),
    ('duplicate', b'{"a": 1, "b": 2, "a": 3}'),
    ('duplicate_many', ('{' + ', '.join('"k%d": %d' % (i % 20, i) for i in range(50)) + '}').encode()),
    ('minus_zero', b'-0'), ('minus_zero_float', b'-0.0'), ('zero_exp', b'0e5'),
    ('exp_upper', b'1E+2'), ('exp_neg', b'1e-2'), ('frac_exp', b'2.5E-3'),
    ('int_big', b'123456789012345678'), ('int64max', b'9223372036854775807'),
    ('int64min', b'-9223372036854775808'), ('int19', b'1234567890123456789'),
    ('overflow_float', b'1e400'), ('underflow_float', b'1e-400'),
    ('nan', b'NaN'), ('inf', b'Infinity'), ('neg_inf', b'-Infinity'),
    ('specials', b'[NaN, -Infinity, Infinity]'),
    ('literals', b'[null, true, false]'),
    ('nested', b'{"a": {"b": [{"c": []}, {}]}}'),
    ('int_too_big', b'99999999999999999999'),
    ('int_too_small', b'-9223372036854775809'),
    # errors
    ('empty', b''), ('space', b' '), ('trailing_comma', b'[1,]'),
    ('trailing_comma_obj', b'{"a": 1,}'), ('leading_zero', b'01'), ('dot_end', b'1.'),
    ('dot_start', b'.5'), ('plus', b'+1'), ('minus', b'-'), ('minus_minus', b'--1'),
    ('partial_null', b'nul'), ('python_true', b'True'), ('unterminated', b'"abc'),
    ('raw_tab', b'"a\tb"'), ('raw_newline', b'"a\nb"'), ('bad_escape', b'"\\x41"'),
    ('bad_u', b'"\\u12G4"'), ('short_u', b'"\\u12"'), ('bad_pair', b'"\\ud83d\\uZZZZ"'),
    ('missing_comma', b'[1 2]'), ('missing_colon', b'{"a" 1}'), ('int_key', b'{1: 2}'),
    ('single_quotes', b"{'a': 1}"), ('extra', b'[1] x'), ('two_values', b'1 2'),
    ('minus_nan', b'-NaN'), ('lower_inf', b'infinity'), ('invalid_utf8', b'"\xff"'),
    ('invalid_utf8_outside', b'[1]\xff'), ('open_array', b'['), ('open_object', b'{"a":'),
    ('exp_incomplete', b'[1e]'), ('exp_sign_only', b'[1e+]'), ('hex', b'0x10'),
    ('backslash_end', b'"abc\\'),
]


def decode_cases():
    out = []
    for name, raw in DECODE_INPUTS:
        case = {"kind": "decode", "name": name}
        try:
            raw.decode('utf-8')
            case["input"] = raw.decode('utf-8')
        except UnicodeDecodeError:
            case["input_hex"] = raw.hex()
        try:
            v = json.loads(raw)
        except (ValueError, RecursionError) as e:
            case["error"] = str(e)
        else:
            case["value"] = desc(v)
            if has_bigint(v):
                case["unsupported"] = True
        out.append(case)
    return out


def has_bigint(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return not (-2**63 <= v < 2**63)
    if isinstance(v, (list, tuple)):
        return any(has_bigint(x) for x in v)
    if isinstance(v, dict):
        return any(has_bigint(x) for x in v.values())
    return False


def float_pairs():
    rnd = random.Random(20261125)
    fs = []
    for _ in range(1500):  # random bit patterns: every exponent range
        f = struct.unpack('>d', struct.pack('>Q', rnd.getrandbits(64)))[0]
        if math.isfinite(f):
            fs.append(f)
    for _ in range(500):  # short decimals, where repr's rounding shows
        fs.append(rnd.randint(-10**6, 10**6) / 10 ** rnd.randint(0, 12))
    for e in range(-30, 31):  # around the switch to scientific notation
        p = 10.0 ** e
        fs += [p, math.nextafter(p, 0), math.nextafter(p, math.inf), 1.5 * p]
    fs += [5e-324, math.nextafter(0, 1) * 3, 2.2250738585072014e-308, 1.7976931348623157e308]
    return [[bits(f), repr(f)] for f in fs]


def main():
    lines = []
    for name, v in encode_cases():
        lines.append({"kind": "encode", "name": name, "value": desc(v), "json": json.dumps(v)})
    lines += decode_cases()
    lines.append({"kind": "floats", "pairs": float_pairs()})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden.jsonl')
    with open(path, 'w') as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=True) + '\n')
    print('wrote %d lines to %s' % (len(lines), path))


if __name__ == '__main__':
    main()
