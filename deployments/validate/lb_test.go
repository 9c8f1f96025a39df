package validate

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHAProxyConfig: HAProxy accepts deployments/haproxy.cfg (`haproxy -c`).
// It needs the haproxy binary (Debian's haproxy package) and is skipped
// without it.
func TestHAProxyConfig(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy binary (apt-get install haproxy)")
	}
	out, err := exec.Command(bin, "-c", "-f", deployments("haproxy.cfg")).CombinedOutput()
	if err != nil {
		t.Errorf("haproxy -c: %v\n%s", err, out)
	}
}

// TestHAProxyDrain runs the compose file's load balancer for real, on
// loopback: deployments/haproxy.cfg with its three servers pointed at three
// `orgstack dev` processes (ORGSTACK_SHUTDOWN_DELAY=5s as in compose.yaml).
// While requests flow through HAProxy, one instance gets SIGTERM; no request
// may fail, and HAProxy must count that instance down afterwards. (Two
// mechanisms protect the clients: the instance answers /readyz with 503
// during the delay so HAProxy stops choosing it, and HAProxy retries a
// connection that is refused on another server; with the delay at 0s this
// test passes too, on the retry alone.) Skipped without the haproxy binary.
func TestHAProxyDrain(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy binary (apt-get install haproxy)")
	}
	if testing.Short() {
		t.Skip("builds the binary and runs four processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgstack")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cfg, err := os.ReadFile(deployments("haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	var instances []*exec.Cmd
	var logs []*bytes.Buffer
	for i := 1; i <= 3; i++ {
		addr := freeAddr(t)
		text = strings.Replace(text, fmt.Sprintf("orgstack-%d:8080", i), addr, 1)
		var log bytes.Buffer
		cmd := exec.Command(bin, "dev", "--db", filepath.Join(dir, fmt.Sprintf("i%d.db", i)))
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "ORGSTACK_HTTP_ADDR=" + addr, "ORGSTACK_SHUTDOWN_DELAY=5s", "ORGSTACK_SHUTDOWN_TIMEOUT=20s"}
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		instances = append(instances, cmd)
		logs = append(logs, &log)
	}
	defer func() {
		for _, c := range instances {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	lb, stats := freeAddr(t), freeAddr(t)
	text = strings.Replace(text, "bind :8080", "bind "+lb, 1)
	text = strings.Replace(text, "bind :8404", "bind "+stats, 1)
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var lbLog bytes.Buffer
	hp := exec.Command(haproxy, "-db", "-f", cfgFile)
	hp.Stdout, hp.Stderr = &lbLog, &lbLog
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hp.Process.Kill(); _ = hp.Wait() }()

	client := &http.Client{Timeout: 5 * time.Second}
	up := func() int {
		resp, err := client.Get("http://" + stats + "/stats;csv")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		n := 0
		for _, line := range strings.Split(b.String(), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 17 && f[0] == "orgstack" && strings.HasPrefix(f[1], "orgstack-") && f[17] == "UP" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for up() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy never saw three instances up (%d)\nhaproxy:\n%s\ninstance 1:\n%s", up(), lbLog.String(), logs[0].String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			sent.Add(1)
			resp, err := client.Get("http://" + lb + "/api/v1/openapi.json")
			if err == nil {
				_, _ = new(bytes.Buffer).ReadFrom(resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprint(err, " ", resp))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	if err := instances[0].Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- instances[0].Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("instance 1 after SIGTERM: %v\n%s", err, logs[0].String())
		}
	case <-time.After(40 * time.Second):
		t.Errorf("instance 1 did not stop within 40 s")
	}
	time.Sleep(time.Second)
	stop()
	<-done
	t.Logf("%d requests through HAProxy while instance 1 drained and stopped; %d failed; %d instances up after", sent.Load(), failed.Load(), up())
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed (first: %v)\nhaproxy:\n%s", failed.Load(), sent.Load(), firstFailure.Load(), lbLog.String())
	}
	if n := up(); n != 2 {
		t.Errorf("%d instances up after one stopped, want 2", n)
	}
	instances = instances[1:]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
