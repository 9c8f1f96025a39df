package validate

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// LintDockerfile parses a Dockerfile with BuildKit's parser and returns
// what breaks the rules of OrgStack's images (an empty list when nothing
// does), each problem prefixed with its line:
//   - BuildKit's own parse warnings and the lint rules its parser runs;
//   - every base image pinned: a digest, or a tag that names a version (not
//     latest, not a bare name), scratch, or an earlier stage;
//   - no ADD from a URL or a git repository;
//   - no secret-looking ENV or ARG names, no passwords in ENV values;
//   - the final stage: a numeric non-root USER, an absolute WORKDIR, a
//     HEALTHCHECK in exec form, CMD and ENTRYPOINT in exec form (no shell
//     needed), and every COPY with an explicit --chown.
func LintDockerfile(r io.Reader) ([]string, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, err
	}
	var problems []string
	at := func(loc []parser.Range, format string, args ...any) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		problems = append(problems, fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...)))
	}
	for _, w := range res.Warnings {
		var loc []parser.Range
		if w.Location != nil {
			loc = []parser.Range{*w.Location}
		}
		at(loc, "%s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		at(loc, "%s: %s", rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return append(problems, "no FROM"), nil
	}
	for _, a := range metaArgs {
		checkArgs(a.Args, a.Location(), at)
	}

	var earlier []string
	for i, st := range stages {
		if p := basePinProblem(st.BaseName, earlier); p != "" {
			at(st.Location, "FROM %s: %s", st.BaseName, p)
		}
		if st.Name != "" {
			earlier = append(earlier, strings.ToLower(st.Name))
		}
		final := i == len(stages)-1
		var user, workdir string
		var health *instructions.HealthCheckCommand
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.AddCommand:
				for _, src := range c.SourcePaths {
					if isRemote(src) {
						at(c.Location(), "ADD %s: fetch remote files in a build stage with a checked download, or COPY them", src)
					}
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if secretName(kv.Key) {
						at(c.Location(), "ENV %s: secrets do not belong in the image (pass them at run time, or as *_FILE)", kv.Key)
					}
					if hasPassword(kv.Value) {
						at(c.Location(), "ENV %s: the value carries a password", kv.Key)
					}
				}
			case *instructions.ArgCommand:
				checkArgs(c.Args, c.Location(), at)
			case *instructions.UserCommand:
				user = c.User
			case *instructions.WorkdirCommand:
				workdir = c.Path
			case *instructions.HealthCheckCommand:
				health = c
			case *instructions.CmdCommand:
				if final && c.PrependShell {
					at(c.Location(), "CMD in shell form: use the exec form [\"…\"] (the image has no shell)")
				}
			case *instructions.EntrypointCommand:
				if final && c.PrependShell {
					at(c.Location(), "ENTRYPOINT in shell form: use the exec form [\"…\"] (the image has no shell)")
				}
			case *instructions.CopyCommand:
				if final && c.Chown == "" {
					at(c.Location(), "COPY without --chown in the final stage: say who owns the files (0:0 for read-only ones)")
				}
			}
		}
		if !final {
			continue
		}
		if p := userProblem(user); p != "" {
			at(st.Location, "final stage: %s", p)
		}
		if !strings.HasPrefix(workdir, "/") {
			at(st.Location, "final stage: no absolute WORKDIR (the writable working directory)")
		}
		switch {
		case health == nil:
			at(st.Location, "final stage: no HEALTHCHECK")
		case len(health.Health.Test) == 0 || health.Health.Test[0] != "CMD":
			at(health.Location(), "HEALTHCHECK: use CMD in exec form (%v)", health.Health.Test)
		}
	}
	return problems, nil
}

func checkArgs(args []instructions.KeyValuePairOptional, loc []parser.Range, at func([]parser.Range, string, ...any)) {
	for _, a := range args {
		if secretName(a.Key) {
			at(loc, "ARG %s: build arguments end up in the image history; use a secret mount", a.Key)
		}
	}
}

var versionTag = regexp.MustCompile(`^[vV]?[0-9]+(\.[0-9]+)*([-.][A-Za-z0-9.-]+)?$`)

// basePinProblem says why a FROM image is not pinned ("" when it is).
func basePinProblem(image string, stages []string) string {
	if image == "scratch" || slices.Contains(stages, strings.ToLower(image)) {
		return ""
	}
	if strings.Contains(image, "$") {
		return "name the image literally, so that it can be checked"
	}
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64 {
			return ""
		}
		return "malformed digest"
	}
	return tagProblem(image)
}

// tagProblem says why an image reference's tag does not name a version.
func tagProblem(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return "no tag (that is latest): pin a version or a digest"
	case tag == "latest" || !versionTag.MatchString(tag):
		return fmt.Sprintf("tag %q names no version: pin a version or a digest", tag)
	}
	return ""
}

// userProblem says why the final USER is not a numeric non-root user.
func userProblem(user string) string {
	if user == "" {
		return "no USER: the image would run as root"
	}
	uid, gid, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	if err != nil {
		return fmt.Sprintf("USER %s: use a numeric UID, so that runAsNonRoot can verify it", user)
	}
	if n == 0 {
		return "USER 0 is root"
	}
	if gid != "" {
		if g, err := strconv.Atoi(gid); err != nil || g == 0 {
			return fmt.Sprintf("USER %s: use a numeric non-root GID", user)
		}
	}
	return ""
}

func isRemote(src string) bool {
	s := strings.ToLower(src)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@") || strings.HasSuffix(s, ".git")
}
