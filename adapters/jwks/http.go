package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// httpTimeout bounds one discovery or key-set request.
	httpTimeout = 10 * time.Second
	// maxBodySize bounds a discovery document or key-set response.
	maxBodySize = 1 << 20
)

// errBodyTooLarge is returned while reading a response larger than maxBodySize.
var errBodyTooLarge = fmt.Errorf("response body larger than %d bytes", maxBodySize)

// NewHTTPClient returns the hardened client used when Config.HTTPClient is
// nil: a 10s timeout, redirects not followed (the redirect response is
// returned as is, so a non-200 status fails the fetch) and response bodies
// limited to 1 MiB.
func NewHTTPClient() *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = httpTimeout
	return &http.Client{
		Transport: limitTransport{base: base, limit: maxBodySize},
		Timeout:   httpTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// limitTransport limits the size of every response body it returns.
type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, errBodyTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.limit}
	return resp, nil
}

// limitedBody fails with errBodyTooLarge once more than its limit is read,
// rather than silently truncating.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// discoveryPath is appended to the issuer to find its OpenID configuration.
const discoveryPath = "/.well-known/openid-configuration"

// discover fetches issuer's OpenID Connect discovery document, checks that it
// names the same issuer and returns its jwks_uri.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	u := strings.TrimSuffix(issuer, "/") + discoveryPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("jwks: discovery %q: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("jwks: discovery %q: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jwks: discovery %q: %w %d", u, errStatus, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBodySize)).Decode(&doc); err != nil {
		return "", fmt.Errorf("jwks: discovery %q: decode: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", &configError{fmt.Errorf("jwks: discovery %q: issuer %q does not match the configured issuer %q",
			u, doc.Issuer, issuer)}
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || (ju.Scheme != "https" && ju.Scheme != "http") || ju.Host == "" {
		return "", &configError{fmt.Errorf("jwks: discovery %q: invalid jwks_uri %q", u, doc.JWKSURI)}
	}
	return doc.JWKSURI, nil
}

// errStatus is a discovery answer whose status is not 200.
var errStatus = errors.New("status")

// configError is a discovery answer that shows a wrong configuration (the
// provider answered, but for another issuer), as opposed to a provider that
// cannot be reached now. New fails on it instead of retrying.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }
