package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckCommand asks a running server's health endpoint and fails
// unless it answers 200, so that a container health check needs no curl or
// shell in the image (HEALTHCHECK CMD ["orgstack", "healthcheck"]).
func healthcheckCommand(env map[string]string) *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a running server's /readyz (or --url); exit 0 when it answers 200, 1 otherwise (container health checks without curl)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				c, err := LoadConfig(env)
				if err != nil {
					return err
				}
				target = "http://" + loopback(c.HTTPAddr) + "/readyz"
			}
			if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--url must be an absolute http(s) URL, not %q", target)
			}
			if timeout <= 0 {
				return errors.New("--timeout must be positive")
			}
			status, err := probe(cmd.Context(), target, timeout)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), target, status)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "URL to ask (default http://127.0.0.1:<port of ORGSTACK_HTTP_ADDR>/readyz; /livez for liveness)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// probe GETs target once, without proxies or redirects, and returns its
// status when it is 200.
func probe(ctx context.Context, target string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return resp.Status, nil
}
