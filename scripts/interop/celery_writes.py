#!/usr/bin/python3
"""Self-test helper: write bench-looking records (ids bec1e7e0-...) with REAL Celery's backend,
the way a prefork worker does (store_result with a request: children [], extended fields).

usage: celery_writes.py URL [--n 3] [--extended] [--track-started] [--payload STR]
Prints the ids written."""
import argparse, os, uuid
from celery import Celery
from celery.app.task import Context

ap = argparse.ArgumentParser()
ap.add_argument('url'); ap.add_argument('--n', type=int, default=3)
ap.add_argument('--extended', action='store_true'); ap.add_argument('--track-started', action='store_true')
ap.add_argument('--payload', default='x' * 64)
a = ap.parse_args()
url = a.url
if url.startswith('db+mysql://'):
    url = 'db+mysql+pymysql://' + url[len('db+mysql://'):]
app = Celery('interop', backend=url)
app.conf.result_extended = a.extended
for i in range(a.n):
    tid = 'bec1e7e0-%04x-4000-8000-%012x' % (0xbeef, uuid.uuid4().int & (2**48 - 1))
    req = Context(id=tid, children=[], task='bench.payload', args=[], kwargs={}, hostname='celery@interop',
                  retries=0, delivery_info={'routing_key': 'celery'})
    if a.track_started:
        app.backend.store_result(tid, {'pid': os.getpid(), 'hostname': 'celery@interop'}, 'STARTED', request=req)
    if i < a.n - 1 or not a.track_started:   # leave the last one STARTED when tracking
        app.backend.store_result(tid, a.payload, 'SUCCESS', request=req)
    print(tid)
