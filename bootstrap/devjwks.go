package bootstrap

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/orgstack/orgstack/adapters/devissuer"
)

// devJWKSClient is the HTTP client the dev server's own verifier fetches
// the development issuer's JWKS with: every request is answered in process
// by the same handler the server publishes at /.well-known/jwks.json. The
// verifier still fetches, parses and refreshes the key set as it would from
// an identity provider; it just need not wait for its own listener.
func devJWKSClient(signer *devissuer.Signer) *http.Client {
	return &http.Client{Transport: handlerTransport{h: signer.JWKSHandler()}}
}

// handlerTransport answers HTTP requests by calling a handler directly.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(w, r)
	return &http.Response{
		Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()),
		Request: r,
	}, nil
}

// bufferedResponse is a minimal http.ResponseWriter that keeps the answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	w.wrote = true
	return w.body.Write(p)
}
