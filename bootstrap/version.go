package bootstrap

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release version. Release builds set it with
//
//	go build -ldflags "-X github.com/orgstack/orgstack/bootstrap.version=v1.2.3"
//
// Otherwise it comes from the build information: the module version for
// `go install …@v1.2.3`, "(devel)" for a build from a checkout.
var version = ""

// versionLine is what `orgstack version` and `orgstack --version` print.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(bi, version)
}

// formatVersion renders the version, the commit it was built from (with
// "(modified)" when the working tree had uncommitted changes) and the Go
// version, from the build information and an optional override.
func formatVersion(bi *debug.BuildInfo, override string) string {
	v, commit, modified, goVersion := override, "unknown", "", runtime.Version()
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && s.Value != "":
				commit = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = " (modified)"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("orgstack %s, commit %s%s, %s", v, commit, modified, goVersion)
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
		},
	}
}
