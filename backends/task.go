package backends

import "context"

// TaskEnder is a Worker whose process does something at the end of every
// task (Celery's task_postrun signal): a django-db worker closes its
// database connection there under CONN_MAX_AGE=0 (DjangoWorkerFixup).
type TaskEnder interface {
	// EndTask runs at task_postrun, after the task's last write (and after
	// on_chord_part_return). A retried task ends its first run here too.
	EndTask(ctx context.Context) error
}

// EndTask runs w's task_postrun work when it has any.
func EndTask(ctx context.Context, w Worker) error {
	if e, ok := w.(TaskEnder); ok {
		return e.EndTask(ctx)
	}
	return nil
}
