// Command overhead measures what the harness itself costs. It runs, in one
// sitting and alternating so that machine drift hits both sides alike:
//
//   - bench's roundtrip workload against Redis (workloads.Run with the redis
//     backend, histograms and all), and
//   - a plain go-redis loop that sends the same commands per task at the
//     same concurrency (SUBSCRIBE and its confirmation, GET, MULTI/SETEX/
//     PUBLISH/EXEC, the message, three UNSUBSCRIBEs) and only counts,
//
// and prints both throughputs and their ratio per pair, then the median
// ratio. It also runs the same workload on memory:// to show the harness's
// own ceiling against the real backend.
//
// Usage: go run ./scripts/overhead [-redis URL] [-c 8] [-d 5s] [-pairs 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/all"
	"github.com/celery-bench/bench/workloads"
)

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis to measure against")
	conc := flag.Int("c", 8, "callers, and as many workers")
	dur := flag.Duration("d", 5*time.Second, "measured time of each side of a pair")
	pairs := flag.Int("pairs", 5, "bench/plain pairs to run, alternating")
	flag.Parse()
	if err := run(*redisURL, *conc, *dur, *pairs); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

func run(redisURL string, conc int, dur time.Duration, pairs int) error {
	ctx := context.Background()
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	fmt.Printf("roundtrip, %d callers, %d workers, %s per side, %d pairs (bench first, then plain)\n", conc, conc, dur, pairs)
	var ratios, cpuRatios []float64
	for i := 0; i < pairs; i++ {
		cpu0 := cpuTime()
		b, err := benchRate(ctx, redisURL, conc, dur, uint64(i+1))
		if err != nil {
			return err
		}
		cpu1 := cpuTime()
		p, err := plainRate(ctx, opt, conc, dur)
		if err != nil {
			return err
		}
		cpu2 := cpuTime()
		// CPU per task over the whole side (warm-up included) divided by
		// the tasks of the whole side: rate*(dur+warm-up).
		bc := (cpu1 - cpu0).Seconds() * 1e6 / (b * (dur + time.Second).Seconds())
		pc := (cpu2 - cpu1).Seconds() * 1e6 / (p * (dur + time.Second).Seconds())
		ratios = append(ratios, b/p)
		cpuRatios = append(cpuRatios, bc/pc)
		fmt.Printf("pair %d: bench %7.0f tasks/s %5.1f client CPU-µs/task   plain go-redis %7.0f tasks/s %5.1f CPU-µs/task   throughput bench/plain %.3f   CPU bench/plain %.3f\n",
			i+1, b, bc, p, pc, b/p, bc/pc)
	}
	sort.Float64s(ratios)
	sort.Float64s(cpuRatios)
	fmt.Printf("median throughput bench/plain: %.3f (min %.3f, max %.3f)\n", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	fmt.Printf("median client CPU per task bench/plain: %.3f (min %.3f, max %.3f)\n", cpuRatios[len(cpuRatios)/2], cpuRatios[0], cpuRatios[len(cpuRatios)-1])
	m, err := benchRate(ctx, "memory://", conc, dur, 99)
	if err != nil {
		return err
	}
	r, err := benchRate(ctx, redisURL, conc, dur, 100)
	if err != nil {
		return err
	}
	fmt.Printf("harness ceiling: memory:// %0.f tasks/s vs redis %0.f tasks/s (%.1fx)\n", m, r, m/r)
	return nil
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRate runs bench's roundtrip workload and returns measured roundtrips/s.
func benchRate(ctx context.Context, url string, conc int, dur time.Duration, seed uint64) (float64, error) {
	o := backends.DefaultOptions
	o.IDPrefix = workloads.IDMarker
	o.Force = true
	meta, _ := workloads.Lookup("roundtrip")
	w := meta.New()
	b, err := workloads.OpenTarget(ctx, url, o, w)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	// The measurement bench run makes, without server snapshots (they
	// would add INFO round trips the plain loop does not make).
	t := workloads.Target{Backend: noStats{b}, URL: url, Name: meta.Name}
	res, err := workloads.Measure(ctx, t, w, workloads.RunOptions{
		Callers: conc, Workers: conc, Duration: dur, Warmup: time.Second, Seed: seed,
		PollInterval: 500 * time.Millisecond, ResultSizes: workloads.FixedSize(64), TaskTimeout: time.Minute,
	}, workloads.Measurement{Workload: meta.Name, Force: true})
	if err != nil {
		return 0, err
	}
	if op, ok := res.Op(workloads.OpRoundtrip); ok {
		return op.Rate(res.End.Sub(res.Start)), nil
	}
	return 0, fmt.Errorf("no roundtrips measured")
}

// noStats hides a backend's server counters.
type noStats struct{ backends.Backend }

// plainRate runs the plain go-redis loop and returns roundtrips/s. It is
// written out in one function on purpose: it is the baseline a reader
// compares bench with, and reads best as the straight-line loop a user
// would write.
func plainRate(ctx context.Context, opt *goredis.Options, conc int, dur time.Duration) (float64, error) {
	newClient := func() *goredis.Client {
		o := *opt
		o.PoolSize, o.Protocol, o.DisableIdentity = 1, 2, true
		return goredis.NewClient(&o)
	}
	queue := make(chan string, 4*conc)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		c := newClient()
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range queue {
				key := "celery-task-meta-" + id
				c.Get(ctx, key)
				v := `{"status": "SUCCESS", "result": "` + payload + `", "traceback": null, "children": [], "date_done": "` +
					time.Now().UTC().Format("2006-01-02T15:04:05.000000") + `+00:00", "task_id": "` + id + `"}`
				c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
					p.SetEx(ctx, key, v, 24*time.Hour)
					p.Publish(ctx, key, v)
					return nil
				})
			}
		}()
	}
	var done atomic.Int64
	warm := time.Now().Add(time.Second)
	end := warm.Add(dur)
	var cwg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < conc; i++ {
		c := newClient()
		defer c.Close()
		ps := c.Subscribe(ctx)
		defer ps.Close()
		cwg.Add(1)
		go func(i int) {
			defer cwg.Done()
			for n := 0; time.Now().Before(end); n++ {
				id := "bec1e7e0-ffff-4000-8000-" + strconv.Itoa(1e6*(i+1)+n)
				key := "celery-task-meta-" + id
				if err := ps.Subscribe(ctx, key); err != nil {
					firstErr.Store(err)
					return
				}
				for { // the confirmation
					m, err := ps.Receive(ctx)
					if err != nil {
						firstErr.Store(err)
						return
					}
					if s, ok := m.(*goredis.Subscription); ok && s.Kind == "subscribe" && s.Channel == key {
						break
					}
				}
				start := time.Now()
				queue <- id
				if v, _ := c.Get(ctx, key).Result(); len(v) < 20 || v[12:19] != "SUCCESS" {
					for {
						m, err := ps.Receive(ctx)
						if err != nil {
							firstErr.Store(err)
							return
						}
						if msg, ok := m.(*goredis.Message); ok && msg.Channel == key {
							break
						}
					}
				}
				ps.Unsubscribe(ctx, key)
				ps.Unsubscribe(ctx, key)
				ps.Unsubscribe(ctx, key)
				if !start.Before(warm) {
					done.Add(1)
				}
			}
		}(i)
	}
	cwg.Wait()
	close(queue)
	wg.Wait()
	c := newClient()
	defer c.Close()
	iter := c.Scan(ctx, 0, "celery-task-meta-bec1e7e0-ffff-*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Unlink(ctx, iter.Val())
	}
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(done.Load()) / dur.Seconds(), nil
}

var payload = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab"
