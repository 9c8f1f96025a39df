package outbound

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/orgstack/orgstack/ports"
)

// maxExcerpt is how much of a receiver's answer a delivery attempt keeps.
const maxExcerpt = 200

var _ ports.WebhookSender = (*Client)(nil)

// Send posts one webhook message through the guarded client (its address
// and https rules apply to every delivery) and classifies the outcome:
// policy (refused by the rules), timeout, unreachable, too_large. Only a
// short, cleaned start of the answer is kept; redirects are not followed.
func (c *Client) Send(ctx context.Context, req ports.WebhookRequest) ports.WebhookResponse {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return ports.WebhookResponse{ErrorClass: "policy"}
	}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	r.Header.Set("User-Agent", "OrgStack-Webhooks/1")
	resp, err := c.Do(r)
	if err != nil {
		return ports.WebhookResponse{ErrorClass: errorClass(err)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxExcerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out := ports.WebhookResponse{StatusCode: resp.StatusCode, Excerpt: cleanExcerpt(b)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		out.ErrorClass = "redirect"
	}
	return out
}

func errorClass(err error) string {
	var pe *PolicyError
	if errors.As(err, &pe) {
		if pe.Reason == ReasonBodyTooLarge {
			return "too_large"
		}
		return "policy"
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
		return "timeout"
	}
	return "unreachable"
}

// cleanExcerpt keeps printable text only, at most maxExcerpt characters.
func cleanExcerpt(b []byte) string {
	var sb strings.Builder
	n := 0
	for _, r := range string(b) {
		if n >= maxExcerpt {
			break
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		sb.WriteRune(r)
		n++
	}
	return strings.TrimSpace(sb.String())
}
