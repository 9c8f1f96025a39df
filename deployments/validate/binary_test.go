package validate

import (
	"bytes"
	"context"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImageBinary checks what the image relies on, without a container
// engine: `orgstack version` prints the version stamped with -ldflags -X as
// deployments/Dockerfile stamps it, and `orgstack healthcheck` (the image's
// HEALTHCHECK) exits 0 against a serving instance and 1 once it is gone.
// With ORGSTACK_TEST_STATIC_BUILD=1 it builds exactly as the Dockerfile
// does (CGO_ENABLED=0, -trimpath, -s -w) and checks that the binary is
// static (no ELF interpreter, no shared libraries: it runs on scratch); that
// is a cold build of every package (minutes on two cores), so CI leaves it
// out and the default build shares the cache of the service's own tests.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	static := os.Getenv("ORGSTACK_TEST_STATIC_BUILD") == "1"
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgstack")
	args := []string{"build", "-ldflags=-X github.com/orgstack/orgstack/bootstrap.version=v0.0.0-validate", "-o", bin, "."}
	if static {
		args = []string{"build", "-trimpath", "-buildvcs=false",
			"-ldflags=-s -w -X github.com/orgstack/orgstack/bootstrap.version=v0.0.0-validate", "-o", bin, "."}
	}
	build := exec.Command("go", args...)
	build.Dir = repo
	build.Env = os.Environ()
	if static {
		build.Env = append(build.Env, "CGO_ENABLED=0")
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if static {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("the binary asks for an ELF interpreter: it is not static")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v", libs)
		}
		f.Close()
	} else {
		t.Log("static build not checked (set ORGSTACK_TEST_STATIC_BUILD=1)")
	}

	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("version"); err != nil || !strings.HasPrefix(out, "orgstack v0.0.0-validate, ") {
		t.Errorf("orgstack version: %v %q", err, out)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	dev := exec.Command(bin, "dev", "--db", filepath.Join(dir, "dev.db"))
	dev.Dir = dir
	dev.Env = []string{"HOME=" + dir, "ORGSTACK_HTTP_ADDR=" + addr}
	dev.Stdout, dev.Stderr = &log, &log
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dev.Process.Kill(); _ = dev.Wait() }()
	url := "http://" + addr + "/readyz"
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := run("healthcheck", "--url", url, "--timeout", "1s")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck never passed: %v %q\nserver log:\n%s", err, out, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = dev.Process.Kill()
	_ = dev.Wait()
	out, err := run("healthcheck", "--url", url, "--timeout", "1s")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("healthcheck after the server stopped: %v %q; want exit status 1", err, out)
	}
}
