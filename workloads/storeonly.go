package workloads

import "context"

func init() {
	Register(Meta{
		Name:        "store-only",
		Description: "fire-and-forget tasks whose results nobody reads: only the workers' writes (the load that moved MDN off MySQL)",
		New:         func() Workload { return storeOnly{} },
	})
}

// storeOnly is task.delay(...) with the result discarded: the caller runs
// on_task_call and releases the AsyncResult at once (Redis: SUBSCRIBE then
// UNSUBSCRIBE), and the worker stores the result that nobody reads.
type storeOnly struct{}

func (storeOnly) Ops() []string { return []string{OpTask} }
func (s storeOnly) Start() Load { return s }

func (storeOnly) Call(ctx context.Context, c *Caller) error {
	t := c.NewTask()
	if err := c.Session.OnTaskCall(ctx, t.ID); err != nil {
		return nil // recorded by the session's observer
	}
	if err := c.Dispatch(ctx, t); err != nil {
		return nil
	}
	c.Session.Release(ctx, t.ID)
	return nil
}
