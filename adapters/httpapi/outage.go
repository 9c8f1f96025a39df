package httpapi

import (
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// outageLogEvery is the interval of the "N requests refused" log lines.
const outageLogEvery = 10 * time.Second

// outageLog keeps the log readable while a dependency is down: the first
// refused request of an outage is logged with its cause, later ones are
// only counted, and the count is logged once per interval while refusals
// go on. An outage is over for the log after a whole quiet interval.
type outageLog struct {
	log   *zap.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	deps map[string]*outageCount
}

type outageCount struct {
	window time.Time // start of the current counting interval
	last   time.Time // latest refusal
	n      int       // refusals counted in the window
}

func newOutageLog(log *zap.Logger, every time.Duration) *outageLog {
	return &outageLog{log: log, every: every, now: time.Now, deps: map[string]*outageCount{}}
}

// refused records one request refused because dependency is unavailable.
func (o *outageLog) refused(dependency string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	c := o.deps[dependency]
	if c == nil || now.Sub(c.last) > o.every {
		if c != nil && c.n > 0 {
			o.count(dependency, c, c.last)
		}
		o.log.Warn(dependency+" unavailable: answering 503 unavailable until it recovers",
			zap.String("dependency", dependency), zap.Error(err))
		o.deps[dependency] = &outageCount{window: now, last: now}
		return
	}
	c.n++
	c.last = now
	if now.Sub(c.window) >= o.every {
		o.count(dependency, c, now)
		c.window, c.n = now, 0
	}
}

// count logs the refusals counted in c's window.
func (o *outageLog) count(dependency string, c *outageCount, end time.Time) {
	o.log.Warn(dependency+" unavailable: "+strconv.Itoa(c.n)+" requests refused in the last "+
		end.Sub(c.window).Round(time.Second).String(),
		zap.String("dependency", dependency), zap.Int("refused", c.n))
}
