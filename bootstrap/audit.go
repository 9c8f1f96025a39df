package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgstack/orgstack/ports"
)

// auditCommand groups the operator's audit-log commands: `audit prune`
// deletes events older than a time or an age. Events are immutable to the
// service (a trigger refuses UPDATE and DELETE); only the owner of the
// audit table may switch it off, so run prune with the owner's database URL
// (the migration URL), never the service's runtime role.
func auditCommand(env map[string]string) *cobra.Command {
	cmd := withSettings(&cobra.Command{
		Use:   "audit",
		Short: "Audit-log retention (ORGSTACK_MIGRATE_DATABASE_URL, else ORGSTACK_DATABASE_URL: the owner of the tables)",
	}, "audit")
	var before string
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Delete audit events that occurred before --before (an RFC 3339 time, or an age such as 2160h)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cutoff, err := parseCutoff(before, time.Now())
			if err != nil {
				return err
			}
			c, err := LoadConfig(env)
			if err != nil {
				return err
			}
			if err := c.validateDatabaseURL(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			s, err := openStore(ctx, c.migrateURL(), settings{})
			if err != nil {
				return err
			}
			defer func() { _ = s.Close() }()
			pr, ok := s.(ports.AuditPruner)
			if !ok {
				return errors.New("this store does not offer audit pruning")
			}
			n, err := pr.PruneAuditEvents(ctx, cutoff)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pruned %d audit events that occurred before %s\n", n, cutoff.UTC().Format(time.RFC3339))
			return nil
		},
	}
	prune.Flags().StringVar(&before, "before", "", "delete events before this RFC 3339 time, or older than this age (e.g. 2160h for 90 days) (required)")
	cmd.AddCommand(prune)
	return cmd
}

// parseCutoff reads --before: an RFC 3339 time, or a positive age
// (a Go duration, with d for days allowed: 90d) measured back from now.
func parseCutoff(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, errors.New("--before is required: an RFC 3339 time or an age such as 2160h or 90d")
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == days {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--before %q: want an RFC 3339 time or a positive age such as 2160h or 90d", v)
	}
	return now.Add(-d), nil
}
