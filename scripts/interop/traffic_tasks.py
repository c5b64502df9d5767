"""The Celery tasks both traffic scripts (pg_traffic.py, django_traffic.py) define in the app
module they write: one lifecycle each, as the traffic tests play them through bench. Line
numbers in a task's traceback follow from the module's text, so a change here changes the
tracebacks the tests compare."""

TASK_DEFS = '''@app.task
def add(x, y):
    return x + y

@app.task(bind=True)
def progress(self):
    self.update_state(state='PROGRESS', meta={'done': 1, 'total': 2})
    time.sleep(0.3)
    return 'done'

@app.task
def boom():
    raise ValueError('boom!')

@app.task
def slow(d):
    time.sleep(d)
    return 'ok'

@app.task(track_started=True)
def started_add(x, y):
    return x + y

@app.task(bind=True, max_retries=1)
def flaky(self):
    if self.request.retries == 0:
        raise self.retry(exc=KeyError('try again'), countdown=0.5)
    return 'retried-ok'

@app.task
def tsum(xs):
    return sum(xs)
'''
