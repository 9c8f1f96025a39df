// Package redistest gives tests real Redis servers: the machine's shared
// one (ORGSTACK_TEST_REDIS_URL, used with a unique key prefix per test) and
// private redis-server processes on free ports that a test may stop and
// start. Nothing here mocks Redis.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns the shared test Redis (ORGSTACK_TEST_REDIS_URL), or skips
// the test when it is unset (a fresh machine without Redis still passes
// go test ./...). With ORGSTACK_TEST_REQUIRE_REDIS set, unset fails.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ORGSTACK_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("ORGSTACK_TEST_REQUIRE_REDIS") != "" {
			t.Fatal("ORGSTACK_TEST_REQUIRE_REDIS is set but ORGSTACK_TEST_REDIS_URL is not")
		}
		t.Skip("ORGSTACK_TEST_REDIS_URL is not set")
	}
	return u
}

// Prefix returns a key prefix no other test uses; the keys under it are
// deleted when the test ends.
func Prefix(t testing.TB, rawURL string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "orgstack-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// redis_rate puts "rate:" before our prefix.
		for _, pat := range []string{p + "*", "rate:" + p + "*"} {
			iter := c.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	return p
}

// Server is a private redis-server process (no persistence) on a free
// loopback port.
type Server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// Start runs a private redis-server and stops it when the test ends. It
// skips the test when the binary is missing, unless ORGSTACK_TEST_REQUIRE_REDIS
// is set (CI), which makes that a failure.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("ORGSTACK_TEST_REQUIRE_REDIS") != "" {
			t.Fatalf("redis-server is required (ORGSTACK_TEST_REQUIRE_REDIS): %v", err)
		}
		t.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{t: t, port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Start starts the server (again) on its port and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir(), "--logfile", "")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
