package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers from a table; no query leaves the process.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// recorder watches the Control hook: it notes every address the policy let
// through and refuses (so never connects to) any that is not loopback.
type recorder struct {
	mu       sync.Mutex
	passed   []string // addresses the policy allowed
	refused  []string // addresses the policy refused
	outbound []string // non-loopback addresses the policy allowed (vetoed here)
}

func (r *recorder) observe(address string, policyErr error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if policyErr != nil {
		r.refused = append(r.refused, address)
		return nil
	}
	r.passed = append(r.passed, address)
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		r.outbound = append(r.outbound, address)
		return errors.New("test: no connection to a non-loopback address")
	}
	return nil
}

func newTestClient(t *testing.T, c Config) (*Client, *recorder) {
	t.Helper()
	cl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cl.observe = rec.observe
	return cl, rec
}

// dns is the resolver of the SSRF cases.
var dns = fakeResolver{
	"private.example":  {"10.1.2.3"},
	"metadata.example": {"169.254.169.254"},
	"mapped.example":   {"::ffff:127.0.0.1"},
	"mixed.example":    {"93.184.216.34", "192.168.1.10"},
	"mixed6.example":   {"2606:2800:220:1::1", "fd00::1"},
	"cgnat.example":    {"100.64.0.1"},
	"loopback.example": {"127.0.0.1"},
	"local6.example":   {"::1"},
	"public.example":   {"93.184.216.34"},
	"nat64.example":    {"64:ff9b::a9fe:a9fe"},
}

func TestSSRFCases(t *testing.T) {
	tests := []struct {
		give       string
		wantPolicy string // reason of the *PolicyError; "" for another outcome
		wantReach  bool   // an *UnreachableError is expected
	}{
		{give: "https://private.example/jwks", wantPolicy: ReasonAddress},
		{give: "https://metadata.example/latest/meta-data/", wantPolicy: ReasonAddress},
		{give: "https://mapped.example/", wantPolicy: ReasonAddress},
		{give: "https://mixed.example/", wantPolicy: ReasonAddress},
		{give: "https://mixed6.example/", wantPolicy: ReasonAddress},
		{give: "https://cgnat.example/", wantPolicy: ReasonAddress},
		{give: "https://loopback.example/", wantPolicy: ReasonAddress},
		{give: "https://local6.example/", wantPolicy: ReasonAddress},
		{give: "https://nat64.example/", wantPolicy: ReasonAddress},
		{give: "https://127.0.0.1/", wantPolicy: ReasonAddress},
		{give: "https://[::ffff:169.254.169.254]/", wantPolicy: ReasonAddress},
		{give: "https://[::ffff:a9fe:a9fe]/", wantPolicy: ReasonAddress},
		{give: "https://[::127.0.0.1]/", wantPolicy: ReasonAddress},
		{give: "https://0.0.0.0/", wantPolicy: ReasonAddress},
		{give: "https://[::]/", wantPolicy: ReasonAddress},
		{give: "https://224.0.0.1/", wantPolicy: ReasonAddress},
		{give: "https://255.255.255.255/", wantPolicy: ReasonAddress},
		{give: "https://2130706433/", wantReach: true}, // not an IP to Go: a name, which does not resolve
		{give: "http://public.example/", wantPolicy: ReasonScheme},
		{give: "ftp://public.example/", wantPolicy: ReasonScheme},
		{give: "https://nowhere.example/", wantReach: true},
		// Allowed by policy: the recorder refuses the connection, so the
		// exchange fails as unreachable and no packet leaves.
		{give: "https://public.example/", wantReach: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			cl, rec := newTestClient(t, Config{Resolver: dns})
			_, err := cl.Get(context.Background(), tt.give)
			var pe *PolicyError
			var ue *UnreachableError
			switch {
			case tt.wantPolicy != "":
				if !errors.As(err, &pe) || pe.Reason != tt.wantPolicy {
					t.Fatalf("got %v, want a policy refusal %q", err, tt.wantPolicy)
				}
				if len(rec.passed) != 0 {
					t.Errorf("got connections attempted to %v, want none", rec.passed)
				}
			case tt.wantReach:
				if !errors.As(err, &ue) || errors.As(err, &pe) {
					t.Fatalf("got %v, want unreachable", err)
				}
			}
		})
	}
}

// TestNoNonLoopbackConnection runs every case above once more on one client
// and asserts what the Control hook saw: the only address the policy ever
// let through is the public one, and the recorder refused it.
func TestNoNonLoopbackConnection(t *testing.T) {
	cl, rec := newTestClient(t, Config{Resolver: dns})
	for host := range dns {
		_, _ = cl.Get(context.Background(), "https://"+host+"/")
	}
	if len(rec.outbound) != 1 || rec.outbound[0] != "93.184.216.34:443" {
		t.Errorf("got non-loopback addresses passed by policy %v, want only 93.184.216.34:443 (vetoed by the test)", rec.outbound)
	}
}

// TestControlHookRefusesRebinding drives the Control hook with the address
// a rebinding resolver would hand the dialer after the first check.
func TestControlHookRefusesRebinding(t *testing.T) {
	cl, rec := newTestClient(t, Config{})
	d := &dialer{client: cl}
	for _, addr := range []string{"10.0.0.1:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:443", "[fd12::1]:443", "[::1]:443", "not-an-ip:443"} {
		var pe *PolicyError
		if err := d.control("tcp", addr, nil); !errors.As(err, &pe) || pe.Reason != ReasonAddress {
			t.Errorf("control(%s): got %v, want an address refusal", addr, err)
		}
	}
	if len(rec.passed) != 0 {
		t.Errorf("got %v passed, want none", rec.passed)
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		give    string
		refused bool
	}{
		{"10.0.0.1", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"192.168.0.1", true},
		{"127.0.0.1", true}, {"127.255.255.254", true}, {"169.254.169.254", true}, {"100.64.0.1", true},
		{"100.127.255.255", true}, {"0.0.0.0", true}, {"255.255.255.255", true}, {"224.0.0.251", true},
		{"192.0.2.1", true}, {"198.51.100.1", true}, {"203.0.113.1", true}, {"198.18.0.1", true},
		{"::", true}, {"::1", true}, {"fe80::1", true}, {"fd00::1", true}, {"fc00::1", true}, {"ff02::1", true},
		{"::ffff:10.0.0.1", true}, {"::ffff:127.0.0.1", true}, {"::ffff:169.254.169.254", true},
		{"::10.0.0.1", true}, {"64:ff9b::10.0.0.1", true}, {"2002:a9fe:a9fe::1", true}, {"2001:db8::1", true},
		{"8.8.8.8", false}, {"93.184.216.34", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"2606:4700::1111", false}, {"::ffff:8.8.8.8", false}, {"64:ff9b::8.8.8.8", false},
	}
	for _, tt := range tests {
		got := Refused(netip.MustParseAddr(tt.give)) != ""
		if got != tt.refused {
			t.Errorf("Refused(%s): got %v, want %v", tt.give, got, tt.refused)
		}
	}
}

// allowed returns a client whose allow-list holds srv's host:port.
func allowed(t *testing.T, srv *httptest.Server, c Config) (*Client, *recorder) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	c.Allow = append(c.Allow, u.Host)
	cl, rec := newTestClient(t, c)
	if srv.TLS != nil {
		tr := cl.http.Transport.(*guardTransport).base.(*http.Transport)
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	return cl, rec
}

func TestAllowListLiftsExactlyOneHostPort(t *testing.T) {
	hit := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }
	a := httptest.NewServer(http.HandlerFunc(hit))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(hit))
	defer b.Close()
	cl, rec := allowed(t, a, Config{Resolver: dns})

	resp, err := cl.Get(context.Background(), a.URL+"/")
	if err != nil {
		t.Fatalf("allowed plain-http loopback: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("got %q, want ok", body)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(a.URL, "http://"))
	tests := []struct {
		give       string
		wantPolicy bool
	}{
		{b.URL + "/", true},                                // same host, another port
		{"http://loopback.example:" + port + "/", true},    // another name for the same address
		{"https://127.0.0.1:" + port + "/", false},         // https to the pair: allowed (TLS then fails)
		{"http://[::ffff:127.0.0.1]:" + port + "/", false}, // the same IPv4 address, mapped spelling
	}
	for _, tt := range tests {
		_, err := cl.Get(context.Background(), tt.give)
		var pe *PolicyError
		if got := errors.As(err, &pe); got != tt.wantPolicy {
			t.Errorf("%s: got %v, want policy refusal %v", tt.give, err, tt.wantPolicy)
		}
	}
	for _, addr := range rec.passed {
		if !strings.HasSuffix(addr, ":"+port) {
			t.Errorf("got a connection to %s, want only the allowed port %s", addr, port)
		}
	}
}

func TestHTTPSThroughAllowList(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"keys":[]}`)
	}))
	defer srv.Close()
	cl, _ := allowed(t, srv, Config{})
	resp, err := cl.Get(context.Background(), srv.URL+"/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got %d, want 200", resp.StatusCode)
	}
}

func TestRedirectRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	cl, rec := allowed(t, srv, Config{})
	_, err := cl.Get(context.Background(), srv.URL+"/")
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Reason != ReasonRedirect {
		t.Fatalf("got %v, want a redirect refusal", err)
	}
	if len(rec.passed) != 1 {
		t.Errorf("got connections %v, want only the first one", rec.passed)
	}
	// Through the *http.Client handed to libraries, too.
	_, err = cl.HTTPClient().Get(srv.URL + "/")
	if !errors.As(err, &pe) || pe.Reason != ReasonRedirect {
		t.Fatalf("HTTPClient: got %v, want a redirect refusal", err)
	}
}

func TestBodyTooLarge(t *testing.T) {
	big := strings.Repeat("x", 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()
	cl, _ := allowed(t, srv, Config{MaxBodySize: 1024})
	var pe *PolicyError
	// Announced by Content-Length: refused before the body is read.
	if _, err := cl.Get(context.Background(), srv.URL+"/"); !errors.As(err, &pe) || pe.Reason != ReasonBodyTooLarge {
		t.Fatalf("got %v, want body_too_large", err)
	}
	// Streamed: the read fails once past the limit, never truncates silently.
	resp, err := cl.Get(context.Background(), srv.URL+"/chunked")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.As(err, &pe) || pe.Reason != ReasonBodyTooLarge {
		t.Fatalf("got %v, want body_too_large on read", err)
	}
	// Exactly at the limit is fine.
	cl2, _ := allowed(t, srv, Config{MaxBodySize: 2048})
	resp, err = cl2.Get(context.Background(), srv.URL+"/chunked")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 2048 {
		t.Fatalf("got %d bytes, %v; want 2048, nil", len(b), err)
	}
}

func TestNoProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	cl, _ := newTestClient(t, Config{})
	if p := cl.http.Transport.(*guardTransport).base.(*http.Transport).Proxy; p != nil {
		t.Error("got a proxy function, want none")
	}
}

func TestNewRefusesBadAllowEntries(t *testing.T) {
	for _, give := range []string{"example.com", "example.com:0", "example.com:x", ":443", "https://example.com:443"} {
		if _, err := New(Config{Allow: []string{give}}); err == nil {
			t.Errorf("New(Allow %q): got nil, want an error", give)
		}
	}
}

// TestOperatorHTTPClient: the operator's client reaches plain-http loopback
// (no address or https rule) but keeps the bounds: no redirects, body limit.
func TestOperatorHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 2048))
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	cl := NewOperatorHTTPClient(Config{MaxBodySize: 1024})
	resp, err := cl.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatalf("plain-http loopback: %v", err)
	}
	resp.Body.Close()
	var pe *PolicyError
	if _, err := cl.Get(srv.URL + "/redirect"); !errors.As(err, &pe) || pe.Reason != ReasonRedirect {
		t.Errorf("got %v, want a redirect refusal", err)
	}
	if _, err := cl.Get(srv.URL + "/big"); !errors.As(err, &pe) || pe.Reason != ReasonBodyTooLarge {
		t.Errorf("got %v, want body_too_large", err)
	}
}

// TestCheckURL: the URL policy the application consults before storing a
// tenant's URL: https, or http only for an allowed host:port; no lookup.
func TestCheckURL(t *testing.T) {
	c, err := New(Config{Allow: []string{"127.0.0.1:8443", "IdP.local:80"}})
	if err != nil {
		t.Fatal(err)
	}
	for raw, ok := range map[string]bool{
		"https://idp.example.com/realms/acme":    true,
		"https://127.0.0.1/anything":             true, // the address rule applies at fetch time
		"http://127.0.0.1:8443/idp":              true,
		"http://idp.local/keys":                  true,
		"http://127.0.0.1:8444/idp":              false,
		"http://idp.example.com/realms/acme":     false,
		"ftp://idp.example.com/":                 false,
		"/relative":                              false,
		"http://[::1]:8443/idp":                  false,
		"https://user:pw@idp.example.com/realms": true, // the model refuses user information
	} {
		err := c.CheckURL(raw)
		var pe *PolicyError
		if ok != (err == nil) || !ok && (!errors.As(err, &pe) || pe.Reason != ReasonScheme) {
			t.Errorf("CheckURL(%q) = %v, want allowed=%v", raw, err, ok)
		}
	}
}
