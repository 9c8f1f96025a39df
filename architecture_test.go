package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/orgstack/orgstack"

// deps lists every package the given packages depend on, transitively
// (tests excluded), with whether it belongs to the standard library.
func deps(t *testing.T, pkgs ...string) map[string]bool {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}"}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	m := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		m[path] = std == "true"
	}
	return m
}

// TestDependencyRule enforces the hexagon: dependencies point inward.
func TestDependencyRule(t *testing.T) {
	t.Run("domain uses only the standard library", func(t *testing.T) {
		for path, std := range deps(t, "./domain/...") {
			if !std && !strings.HasPrefix(path, module+"/domain") {
				t.Errorf("domain depends on %s", path)
			}
		}
	})

	forbidden := []string{
		module + "/adapters", module + "/bootstrap",
		"github.com/gorilla/mux", "github.com/uptrace/bun", "go.uber.org/zap", "go.uber.org/fx",
		"github.com/golang-jwt/jwt", "github.com/MicahParks/", "database/sql", "net/http",
	}
	inner := map[string][]string{
		"domain":      {"./domain/..."},
		"ports":       {"./ports/..."},
		"application": {"./application/..."},
	}
	for layer, pkgs := range inner {
		t.Run(layer+" does not import the edge", func(t *testing.T) {
			for path := range deps(t, pkgs...) {
				for _, f := range forbidden {
					if path == f || strings.HasPrefix(path, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(path, f)) {
						t.Errorf("%s depends on %s", layer, path)
					}
				}
			}
		})
	}

	t.Run("ports and application import no other module", func(t *testing.T) {
		for path, std := range deps(t, "./ports/...", "./application/...") {
			if !std && !strings.HasPrefix(path, module+"/") {
				t.Errorf("inner layers depend on %s", path)
			}
		}
	})

	t.Run("adapters do not import each other", func(t *testing.T) {
		out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./adapters/...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			self := adapterOf(fields[0])
			for _, imp := range fields[1:] {
				if other := adapterOf(imp); other != "" && other != self {
					t.Errorf("%s imports adapter %s", fields[0], imp)
				}
			}
		}
	})
}

// adapterOf returns the adapter a package belongs to ("sqlstore" for
// .../adapters/sqlstore/x), or "".
func adapterOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/adapters/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}
