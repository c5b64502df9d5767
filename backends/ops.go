package backends

// Operation names, after the Celery methods that perform them. Backends
// report each operation they perform to their Observer under one of these
// names; reports list them in this order.
const (
	// OpStoreResult is Backend.store_result, run by a worker for every state
	// write (Redis: GET, then MULTI/SETEX/PUBLISH/EXEC; SQL: one transaction).
	OpStoreResult = "store_result"
	// OpOnTaskCall is Backend.on_task_call, run by the caller when it sends a
	// task (Redis: SUBSCRIBE on the caller's pub/sub connection).
	OpOnTaskCall = "on_task_call"
	// OpGetTaskMeta is Backend.get_task_meta: one read of a task's state
	// (Redis: GET; SQL: one poll, including the connection Celery opens for it).
	OpGetTaskMeta = "get_task_meta"
	// OpDrainEvents is the caller blocking on its pub/sub connection until
	// the ready message arrives (ResultConsumer.drain_events).
	OpDrainEvents = "drain_events"
	// OpRemovePendingResult is ResultConsumer.cancel_for, run when a result
	// is ready and when it is released (Redis: UNSUBSCRIBE).
	OpRemovePendingResult = "remove_pending_result"
	// OpForget is Backend.forget (Redis: DEL; SQL: DELETE).
	OpForget = "forget"
	// OpConnect is a client library opening a connection with Celery's setup
	// commands inside an operation that needed it (redis-py connects at a
	// caller's first command and after a lost connection); that operation's
	// own time leaves it out. SQL callers that open a connection for every
	// poll count it in get_task_meta instead, since every poll pays it.
	OpConnect = "connect"
)

// Ops lists the operation names in report order.
func Ops() []string {
	return append([]string{OpStoreResult, OpOnTaskCall, OpGetTaskMeta, OpDrainEvents, OpRemovePendingResult, OpForget, OpConnect},
		GroupOps()...)
}
