package bootstrap

import (
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// logWriter is the buffered write path of the log (ORGSTACK_LOG_BUFFERED).
// A request's log line is only copied into memory under a short lock; one
// background goroutine writes the batches out, outside that lock, when
// logBatch bytes are pending or every interval, whichever comes first.
//
// It replaces zapcore.BufferedWriteSyncer, whose flush runs under the lock
// every writer takes: once a second it wrote up to 256 KiB and called
// fsync(2) on stderr there, so every request finishing meanwhile waited
// for the disk (or for a full pipe to drain). Under load that was the
// check route's p99 (see the perf notes). Here no request ever waits on
// the output, unless more than logPending bytes are pending, that is unless
// the output cannot keep up at all: then writers wait for room rather than
// lines being dropped. fsync is called only by Sync (shutdown, or a
// panic-level entry).
type logWriter struct {
	out      zapcore.WriteSyncer
	interval time.Duration

	mu      sync.Mutex
	room    sync.Cond // signalled when the pending buffer is swapped out
	pending []byte    // lines not yet handed to the flusher
	closed  bool      // Stop was called: Write writes through

	flushMu sync.Mutex // serializes flushes (the goroutine and Sync)
	spare   []byte     // the other buffer, owned by the flush in progress

	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

const (
	// logBatch is how many pending bytes wake the flusher early.
	logBatch = 64 << 10
	// logPending bounds the pending bytes; a writer beyond it waits.
	logPending = 4 << 20
)

var _ zapcore.WriteSyncer = (*logWriter)(nil)

// newLogWriter starts the flusher of out; Stop ends it.
func newLogWriter(out zapcore.WriteSyncer, interval time.Duration) *logWriter {
	w := &logWriter{out: out, interval: interval, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		pending: make([]byte, 0, logBatch), spare: make([]byte, 0, logBatch)}
	w.room.L = &w.mu
	go w.run()
	return w
}

// Write copies p into the pending buffer; it never writes to the output.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.pending) > 0 && len(w.pending)+len(p) > logPending {
		w.wake()
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	n := len(w.pending)
	w.mu.Unlock()
	if n >= logBatch {
		w.wake()
	}
	return len(p), nil
}

func (w *logWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *logWriter) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			return
		}
		_ = w.flush()
	}
}

// flush hands the pending lines to the output; writers go on filling the
// other buffer meanwhile.
func (w *logWriter) flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	b := w.pending
	w.pending = w.spare[:0]
	w.room.Broadcast()
	w.mu.Unlock()
	var err error
	if len(b) > 0 {
		_, err = w.out.Write(b)
	}
	if cap(b) > logPending { // do not keep a burst's buffer for ever
		b = make([]byte, 0, logBatch)
	}
	w.spare = b[:0]
	return err
}

// Sync writes out everything pending and syncs the output.
func (w *logWriter) Sync() error {
	err := w.flush()
	if serr := w.out.Sync(); err == nil {
		err = serr
	}
	return err
}

// Stop ends the flusher and writes out what is pending; lines written
// after it are written through, one write each.
func (w *logWriter) Stop() error {
	w.stopped.Do(func() {
		close(w.stop)
		<-w.done
		w.mu.Lock()
		w.closed = true
		w.room.Broadcast()
		w.mu.Unlock()
	})
	return w.Sync()
}
