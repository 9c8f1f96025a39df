// Package outbound is the guarded HTTP client: the one way OrgStack fetches
// a URL that a tenant supplied (an organization's identity provider today,
// webhooks later). Such a URL must be https and must not reach an address
// inside the deployment: loopback, link-local (cloud metadata at
// 169.254.169.254 included), private (RFC 1918, fc00::/7), shared address
// space (100.64.0.0/10), unspecified, multicast, broadcast, reserved and
// documentation ranges, and the IPv4-mapped, IPv4-compatible, NAT64 and
// 6to4 forms of these.
//
// The address is checked twice: every address a name resolves to is checked
// before any connection (a name that resolves to one refused address is
// refused as a whole), and the dialer's Control hook checks the address of
// the socket itself just before connect. Because the second check sees the
// address actually dialled, a DNS answer that changes between the check and
// the connection (DNS rebinding) cannot get around it. Proxies are never
// used (Transport.Proxy is nil), redirects are never followed, and total
// time, TLS handshake, response header time and response size are bounded.
//
// An operator-only allow-list of host:port lifts the address rules and the
// https rule for exactly those host:port pairs (tests, special cases); it is
// read from configuration by bootstrap and can never be set through the API.
package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout               = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 5 * time.Second
	DefaultMaxBodySize           = 1 << 20
)

// Resolver finds the addresses of a host name; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Config configures a Client. The zero value is a guarded client with the
// defaults above and the system resolver.
type Config struct {
	// Allow lists host:port pairs (ORGSTACK_OUTBOUND_ALLOW) exempt from the
	// address rules and the https rule. Host names compare case-insensitively;
	// a port is required.
	Allow []string
	// Timeout bounds a whole exchange, body included; default DefaultTimeout.
	Timeout time.Duration
	// TLSHandshakeTimeout; default DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout; default DefaultResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
	// MaxBodySize bounds a response body; a longer one fails with a
	// *PolicyError (ReasonBodyTooLarge). Default DefaultMaxBodySize.
	MaxBodySize int64
	// Resolver resolves host names; nil uses net.DefaultResolver.
	Resolver Resolver
	// RootCAs, when set, replaces the system's trusted certificate
	// authorities (tests; a private CA).
	RootCAs *x509.CertPool
}

// Reasons of a PolicyError.
const (
	ReasonScheme       = "scheme"         // not https, and not on the allow-list
	ReasonAddress      = "address"        // resolves to a refused address
	ReasonRedirect     = "redirect"       // the server answered with a redirect
	ReasonBodyTooLarge = "body_too_large" // the response is larger than allowed
)

// PolicyError is an exchange refused by the policy of this package: the
// URL, its address, a redirect or the response size. Retrying does not help;
// the URL must change.
type PolicyError struct {
	Reason string // one of the Reason constants
	Target string // the URL or address refused
	Detail string
}

func (e *PolicyError) Error() string {
	return "outbound: refused by policy (" + e.Reason + "): " + e.Target + ": " + e.Detail
}

// UnreachableError is an exchange that failed for a reason outside the
// policy: the name does not resolve, the connection is refused or times
// out, TLS fails. Retrying later may help.
type UnreachableError struct {
	Target string
	Err    error
}

func (e *UnreachableError) Error() string {
	return "outbound: " + e.Target + " unreachable: " + e.Err.Error()
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// Client is the guarded client. Build it once (bootstrap does) and share it.
type Client struct {
	http    *http.Client
	allow   map[string]bool
	maxBody int64
	// observe, when set (tests only), runs in the Control hook after the
	// policy decided about address; its error refuses the connection too.
	observe func(address string, policyErr error) error
}

// New builds a Client. It fails when an allow-list entry is not host:port.
func New(c Config) (*Client, error) {
	allow := map[string]bool{}
	for _, a := range c.Allow {
		key, err := normalizeHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("outbound: allow-list entry %q: %w", a, err)
		}
		allow[key] = true
	}
	c = c.withDefaults()
	var res Resolver = net.DefaultResolver
	if c.Resolver != nil {
		res = c.Resolver
	}
	cl := &Client{allow: allow, maxBody: c.MaxBodySize}
	d := &dialer{client: cl, resolver: res, timeout: c.Timeout}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   c.TLSHandshakeTimeout,
		ResponseHeaderTimeout: c.ResponseHeaderTimeout,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if c.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	}
	cl.http = &http.Client{
		Transport: &guardTransport{client: cl, base: tr},
		Timeout:   c.Timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return &PolicyError{Reason: ReasonRedirect, Target: req.URL.Redacted(), Detail: "redirects are not followed"}
		},
	}
	return cl, nil
}

// NewOperatorHTTPClient returns the hardened client for URLs the operator
// configured (an operator issuer's discovery document and JWKS): the same
// bounds of time and body size, no redirects followed (a redirect is a
// *PolicyError), but no address or https rule and the environment's proxy
// settings honoured, since plain-http providers inside a cluster, or behind
// a corporate proxy, are normal there. c.Allow and c.Resolver are ignored.
// It is the one place those bounds live, for adapters that today keep their
// own copy (adapters/jwks/http.go) to receive from bootstrap.
func NewOperatorHTTPClient(c Config) *http.Client {
	c = c.withDefaults()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSHandshakeTimeout = c.TLSHandshakeTimeout
	base.ResponseHeaderTimeout = c.ResponseHeaderTimeout
	cl := &Client{maxBody: c.MaxBodySize, allow: map[string]bool{}}
	return &http.Client{
		Transport: limitTransport{client: cl, base: base},
		Timeout:   c.Timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return &PolicyError{Reason: ReasonRedirect, Target: req.URL.Redacted(), Detail: "redirects are not followed"}
		},
	}
}

// withDefaults fills in the zero durations and size.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.ResponseHeaderTimeout <= 0 {
		c.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	return c
}

// HTTPClient returns the guarded *http.Client, for libraries that take one
// (keyfunc, a discovery fetch). Its errors wrap *PolicyError when refused by
// policy (errors.As works through *url.Error); use Classify to tell the rest.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Do sends req through the guarded client. Its error is a *PolicyError or an
// *UnreachableError. A body read later may fail with a *PolicyError
// (ReasonBodyTooLarge).
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, Classify(req.URL.Redacted(), err)
	}
	return resp, nil
}

// Get fetches rawURL with the guarded client (see Do).
func (c *Client) Get(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &PolicyError{Reason: ReasonScheme, Target: rawURL, Detail: "not a valid URL"}
	}
	return c.Do(req)
}

// Classify returns err's *PolicyError when it holds one, and otherwise an
// *UnreachableError for target wrapping err. nil stays nil.
func Classify(target string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return ue
	}
	return &UnreachableError{Target: target, Err: err}
}

// allowed reports whether host:port is on the operator's allow-list.
func (c *Client) allowed(hostport string) bool {
	key, err := normalizeHostPort(hostport)
	return err == nil && c.allow[key]
}

// guardTransport enforces the https rule and limits response bodies.
type guardTransport struct {
	client *Client
	base   http.RoundTripper
}

func (t *guardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	target := r.URL.Redacted()
	if r.URL.Scheme != "https" && !t.client.allowed(hostPort(r.URL)) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, &PolicyError{Reason: ReasonScheme, Target: target, Detail: "only https URLs are fetched"}
	}
	return limitTransport{client: t.client, base: t.base}.RoundTrip(r)
}

// limitTransport limits the size of every response body it returns.
type limitTransport struct {
	client *Client
	base   http.RoundTripper
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	target := r.URL.Redacted()
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	limit := t.client.maxBody
	if resp.ContentLength > limit {
		_ = resp.Body.Close()
		return nil, tooLarge(target, limit)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: limit, err: tooLarge(target, limit)}
	return resp, nil
}

func tooLarge(target string, limit int64) *PolicyError {
	return &PolicyError{Reason: ReasonBodyTooLarge, Target: target,
		Detail: "response body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

// hostPort returns u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// normalizeHostPort lower-cases the host of host:port and checks the port.
func normalizeHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return "", errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || host == "" {
		return "", errors.New("want host:port with a port from 1 to 65535")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(strings.TrimSuffix(host, ".")), port), nil
}

// limitedBody fails with its error once more than its limit is read, rather
// than silently truncating.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// dialer resolves and connects under the address rules.
type dialer struct {
	client   *Client
	resolver Resolver
	timeout  time.Duration
}

// DialContext connects to addr (host:port from the URL). An allow-listed
// host:port is dialled as is. Otherwise every address the host resolves to
// must pass the rules (one refused address refuses the name), and each
// address is dialled by IP with the Control hook checking it again.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &PolicyError{Reason: ReasonAddress, Target: addr, Detail: "not host:port"}
	}
	if d.client.allowed(addr) {
		nd := &net.Dialer{Timeout: d.timeout, Resolver: asNetResolver(d.resolver),
			Control: func(_, address string, _ syscall.RawConn) error { return d.client.observed(address, nil) }}
		return nd.DialContext(ctx, network, addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := d.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, &UnreachableError{Target: addr, Err: err}
		}
		for _, f := range found {
			ip, ok := netip.AddrFromSlice(f.IP)
			if !ok || f.Zone != "" {
				return nil, &PolicyError{Reason: ReasonAddress, Target: addr, Detail: "resolves to an unusable address " + f.String()}
			}
			ips = append(ips, ip)
		}
		if len(ips) == 0 {
			return nil, &UnreachableError{Target: addr, Err: errors.New("no addresses")}
		}
	}
	for _, ip := range ips {
		if why := Refused(ip); why != "" {
			return nil, &PolicyError{Reason: ReasonAddress, Target: addr,
				Detail: "resolves to " + ip.String() + " (" + why + ")"}
		}
	}
	nd := &net.Dialer{Timeout: d.timeout, Control: d.control}
	var errs []error
	for _, ip := range ips {
		c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		var pe *PolicyError
		if errors.As(err, &pe) {
			return nil, pe
		}
		errs = append(errs, err)
	}
	return nil, &UnreachableError{Target: addr, Err: errors.Join(errs...)}
}

// control is the dialer's Control hook: it runs on the socket about to
// connect, with the address actually dialled.
func (d *dialer) control(_, address string, _ syscall.RawConn) error {
	var policyErr error
	ap, err := netip.ParseAddrPort(address)
	switch {
	case err != nil:
		policyErr = &PolicyError{Reason: ReasonAddress, Target: address, Detail: "not an IP address and port"}
	default:
		if why := Refused(ap.Addr()); why != "" {
			policyErr = &PolicyError{Reason: ReasonAddress, Target: address, Detail: why}
		}
	}
	if err := d.client.observed(address, policyErr); err != nil {
		return err
	}
	return policyErr
}

// observed runs the test hook, if any.
func (c *Client) observed(address string, policyErr error) error {
	if c.observe == nil {
		return nil
	}
	return c.observe(address, policyErr)
}

// asNetResolver returns r as a *net.Resolver when it is one, so an
// allow-listed name resolves with the same resolver.
func asNetResolver(r Resolver) *net.Resolver {
	nr, _ := r.(*net.Resolver)
	return nr
}

// refusedPrefixes are the ranges no tenant URL may reach, with why.
var refusedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible, loopback or unspecified"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo included)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64L    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Refused says why ip may not be reached by a tenant URL, or "" when it
// may. IPv4 addresses embedded in IPv6 (mapped ::ffff:a.b.c.d, compatible
// ::a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::) are judged as
// the IPv4 address they carry.
func Refused(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if why := Refused(ip.Unmap()); why != "" {
			return "IPv4-mapped " + why
		}
		return ""
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			if why := Refused(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
				return "NAT64 " + why
			}
			return ""
		case nat64L.Contains(ip):
			return "local-use NAT64"
		case sixToFour.Contains(ip):
			if why := Refused(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
				return "6to4 " + why
			}
			return ""
		}
	}
	for _, p := range refusedPrefixes {
		if p.prefix.Contains(ip) {
			return p.why
		}
	}
	return ""
}

// CheckURL implements ports.URLPolicy: raw must be an absolute https URL,
// or a plain http one whose host:port is on the allow-list. It resolves
// nothing; the address rules apply when the URL is fetched.
func (c *Client) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return &PolicyError{Reason: ReasonScheme, Target: raw, Detail: "must be an absolute URL"}
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && c.allowed(hostPort(u)):
		return nil
	}
	return &PolicyError{Reason: ReasonScheme, Target: u.Redacted(), Detail: "must be an https URL"}
}
