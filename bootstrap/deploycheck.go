package bootstrap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orgstack/orgstack/adapters/telemetry"
)

// This file is what deployments/validate (a separate Go module) asks of
// bootstrap, so that the deployment files are checked against the real
// settings and commands rather than a copy of their names.

// SettingNames returns the name of every environment variable orgstack
// reads (ORGSTACK_…), in the order of Config.
func SettingNames() []string {
	var names []string
	for _, s := range allSettings() {
		names = append(names, s.Name)
	}
	return names
}

// CommandNames returns every command orgstack can run, as the words typed
// after the program name ("serve", "migrate up").
func CommandNames() []string {
	var names []string
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && c.Runnable() {
			names = append(names, strings.TrimPrefix(c.CommandPath(), "orgstack "))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(map[string]string{}, "orgstack"))
	slices.Sort(names)
	return names
}

// CheckCommandLine reports whether args (without the program name) is a
// command line orgstack accepts: a command that runs, its flags and its
// arguments. It runs nothing.
func CheckCommandLine(args []string) error {
	root := newRootCommand(map[string]string{}, "orgstack")
	cmd, rest, err := root.Find(args)
	if err != nil {
		return fmt.Errorf("%w (commands: %s)", err, strings.Join(CommandNames(), ", "))
	}
	if cmd == root || !cmd.Runnable() {
		return fmt.Errorf("%q is not a command orgstack runs (commands: %s)", strings.Join(args, " "), strings.Join(CommandNames(), ", "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}

// CheckServeEnvironment reports whether env (variable → value) is a
// configuration `orgstack serve` accepts: every step serve takes before it
// starts the server (the files its *_FILE variables name are read), without
// reaching the database or the identity provider.
func CheckServeEnvironment(env map[string]string) error {
	c, err := LoadConfig(env)
	if err != nil {
		return err
	}
	if err := c.validateServe(); err != nil {
		return err
	}
	if _, err := servingSettings(c, env); err != nil {
		return err
	}
	_, err = telemetry.TraceSettingsFromEnv(env)
	return err
}
