package bootstrap

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHealthcheck: the command exits 0 only on a 200, within its timeout,
// and by default asks /readyz on the port of ORGSTACK_HTTP_ADDR.
func TestHealthcheck(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusOK)
		case "/draining":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/readyz", http.StatusFound)
		case "/slow":
			<-release
		}
	}))
	defer srv.Close()
	defer close(release)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tests := []struct {
		give    []string
		env     map[string]string
		wantErr string
	}{
		{give: []string{"--url", srv.URL + "/readyz"}},
		{give: nil, env: map[string]string{"ORGSTACK_HTTP_ADDR": ":" + port}},
		{give: []string{"--url", srv.URL + "/draining"}, wantErr: "503 Service Unavailable"},
		{give: []string{"--url", srv.URL + "/redirect"}, wantErr: "302 Found"},
		{give: []string{"--url", srv.URL + "/slow", "--timeout", "100ms"}, wantErr: "deadline exceeded"},
		{give: []string{"--url", "127.0.0.1:8080/readyz"}, wantErr: "absolute http(s) URL"},
		{give: []string{"--url", "http://127.0.0.1:1/readyz"}, wantErr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = map[string]string{}
			}
			root := newRootCommand(env, "orgstack")
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs(append([]string{"healthcheck"}, tt.give...))
			start := time.Now()
			err := root.Execute()
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v: the timeout is not applied", time.Since(start))
			}
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(out.String(), "200 OK") {
					t.Errorf("got %v, %q; want success", err, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestDeployCheck: what deployments/validate asks of bootstrap answers from
// the real configuration and command tree.
func TestDeployCheck(t *testing.T) {
	names := SettingNames()
	for _, want := range []string{"ORGSTACK_DATABASE_URL", "ORGSTACK_SHUTDOWN_DELAY", "ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE"} {
		if !slices.Contains(names, want) {
			t.Errorf("SettingNames() lacks %s: %v", want, names)
		}
	}
	cmds := CommandNames()
	for _, want := range []string{"serve", "migrate up", "healthcheck", "version", "audit prune"} {
		if !slices.Contains(cmds, want) {
			t.Errorf("CommandNames() lacks %q: %v", want, cmds)
		}
	}
	if slices.Contains(cmds, "migrate") {
		t.Errorf("CommandNames() lists migrate, which only groups commands: %v", cmds)
	}

	lines := []struct {
		give []string
		ok   bool
	}{
		{[]string{"serve"}, true},
		{[]string{"migrate", "up"}, true},
		{[]string{"healthcheck", "--url", "http://127.0.0.1:8080/livez", "--timeout", "2s"}, true},
		{[]string{"migrate"}, false},
		{[]string{"migrate", "sideways"}, false},
		{[]string{"migrate", "up", "now"}, false},
		{[]string{"audit", "prune", "--before", "2160h"}, true},
		{[]string{"audit"}, false},
		{[]string{"serv"}, false},
		{[]string{"healthcheck", "--uri", "x"}, false},
		{nil, false},
	}
	for _, tt := range lines {
		if err := CheckCommandLine(tt.give); (err == nil) != tt.ok {
			t.Errorf("CheckCommandLine(%q) = %v; want ok=%v", tt.give, err, tt.ok)
		}
	}

	good := map[string]string{
		"ORGSTACK_DATABASE_URL": "postgres://db/orgstack", "ORGSTACK_OIDC_ISSUER": "http://idp:4455",
		"ORGSTACK_AUDIENCE": "https://api.orgstack.test", "ORGSTACK_SHUTDOWN_DELAY": "5s",
	}
	if err := CheckServeEnvironment(good); err != nil {
		t.Errorf("CheckServeEnvironment(good) = %v", err)
	}
	good["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
	if err := CheckServeEnvironment(good); err == nil || !strings.Contains(err.Error(), "http/protobuf") {
		t.Errorf("CheckServeEnvironment(OTLP over gRPC) = %v; want it refused as serve refuses it", err)
	}
	delete(good, "OTEL_EXPORTER_OTLP_PROTOCOL")
	good["ORGSTACK_SHUTDOWN_TIMEOUT"] = "5s"
	if err := CheckServeEnvironment(good); err == nil || !strings.Contains(err.Error(), "ORGSTACK_SHUTDOWN_DELAY") {
		t.Errorf("CheckServeEnvironment(delay = timeout) = %v; want the delay refused", err)
	}
}
