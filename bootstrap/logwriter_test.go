package bootstrap

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stallingOutput is a log output whose writes block while stalled, as a
// slow disk or a full pipe does, and which counts Sync calls.
type stallingOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	gate    chan struct{} // writes wait until it is closed
	entered chan struct{} // receives once per Write that began
	syncs   atomic.Int32
}

func (o *stallingOutput) Write(p []byte) (int, error) {
	select {
	case o.entered <- struct{}{}:
	default:
	}
	<-o.gate
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *stallingOutput) Sync() error { o.syncs.Add(1); return nil }

func (o *stallingOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestLogWriterNeverWaitsOnTheOutput: while the output is stalled in the
// middle of a flush, log writes still return at once (the request path
// never waits on the disk); every line comes out, in order, once it
// unblocks; Sync is called only by Stop.
func TestLogWriterNeverWaitsOnTheOutput(t *testing.T) {
	out := &stallingOutput{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	w := newLogWriter(out, 10*time.Millisecond)
	var want bytes.Buffer
	line := func(i int) []byte { return fmt.Appendf(nil, `{"msg":"request","n":%d}`+"\n", i) }
	for i := range 10 {
		_, _ = w.Write(line(i))
		want.Write(line(i))
	}
	select { // the flusher is now stuck in the output's Write
	case <-out.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the flusher never wrote")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 10; i < 5000; i++ {
			if _, err := w.Write(line(i)); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("log writes waited for a stalled output")
	}
	for i := 10; i < 5000; i++ {
		want.Write(line(i))
	}
	if n := out.syncs.Load(); n != 0 {
		t.Errorf("output synced %d times before Stop, want 0 (no fsync on the request path)", n)
	}
	close(out.gate)
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want.String() {
		t.Errorf("output differs from the lines written (%d bytes, want %d)", len(got), want.Len())
	}
	if out.syncs.Load() != 1 {
		t.Errorf("Stop synced %d times, want 1", out.syncs.Load())
	}
	_, _ = w.Write(line(5000)) // after Stop: written through
	if !bytes.HasSuffix([]byte(out.String()), line(5000)) {
		t.Error("a line written after Stop was not written")
	}
}
