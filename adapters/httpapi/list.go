package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/orgstack/orgstack/ports"
)

// Page size limits of every list.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	maxPage         = 1_000_000
	maxFilterLen    = 200
)

// listSpec describes one list endpoint: its sortable fields and its filters,
// each with the values it accepts.
type listSpec struct {
	sorts   []string
	filters map[string]filterSpec
}

// filterSpec is one filter parameter: a fixed set of values, or free text of
// bounded length.
type filterSpec struct {
	values []string // nil: any text up to maxLen
	maxLen int
}

func textFilter() filterSpec { return filterSpec{maxLen: maxFilterLen} }

func enumFilter(values ...string) filterSpec { return filterSpec{values: values} }

// listQuery is a parsed list request.
type listQuery struct {
	ports.PageRequest
	filters map[string]string
}

func (q listQuery) filter(name string) string { return q.filters[name] }

// parseList is THE list-query parser: page (≥ 1, default 1), size (1 to
// 100, default 20), sort (a comma list of the spec's fields, '-' for
// descending) and the spec's filters. Any unknown, repeated or invalid
// parameter is a 400 invalid_parameter naming each offending parameter.
func parseList(r *http.Request, spec listSpec) (listQuery, error) {
	q := listQuery{PageRequest: ports.PageRequest{Page: 1, Size: DefaultPageSize}, filters: map[string]string{}}
	values := r.URL.Query()
	var problems []fieldProblem
	bad := func(name, format string, args ...any) {
		problems = append(problems, fieldProblem{Parameter: name, Detail: fmt.Sprintf(format, args...)})
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := values[name]
		if len(vs) != 1 {
			bad(name, "must be given at most once")
			continue
		}
		v := vs[0]
		switch name {
		case "page":
			n, ok := parseInt(v)
			if !ok || n < 1 || n > maxPage {
				bad(name, "must be an integer from 1 to %d", maxPage)
				continue
			}
			q.Page = n
		case "size":
			n, ok := parseInt(v)
			if !ok || n < 1 || n > MaxPageSize {
				bad(name, "must be an integer from 1 to %d", MaxPageSize)
				continue
			}
			q.Size = n
		case "sort":
			sort, detail := parseSort(v, spec.sorts)
			if detail != "" {
				bad(name, "%s", detail)
				continue
			}
			q.Sort = sort
		default:
			f, ok := spec.filters[name]
			if !ok {
				bad(name, "is not a known parameter")
				continue
			}
			if f.values != nil && !slices.Contains(f.values, v) {
				bad(name, "must be one of %s", strings.Join(f.values, ", "))
				continue
			}
			if f.values == nil && (!utf8.ValidString(v) || utf8.RuneCountInString(v) > f.maxLen) {
				bad(name, "must be at most %d characters of valid UTF-8", f.maxLen)
				continue
			}
			q.filters[name] = v
		}
	}
	if len(problems) > 0 {
		names := make([]string, len(problems))
		for i, p := range problems {
			names[i] = p.Parameter
		}
		return q, newAPIError("invalid_parameter", "invalid query parameter: "+strings.Join(names, ", "), problems...)
	}
	return q, nil
}

// parseInt accepts only plain decimal digits.
func parseInt(v string) (int, bool) {
	if v == "" || len(v) > 9 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

func parseSort(v string, allowed []string) ([]ports.SortField, string) {
	if len(allowed) == 0 {
		return nil, "sorting is not supported on this list"
	}
	var out []ports.SortField
	seen := map[string]bool{}
	for part := range strings.SplitSeq(v, ",") {
		f := ports.SortField{Field: part}
		if strings.HasPrefix(part, "-") {
			f = ports.SortField{Field: part[1:], Desc: true}
		}
		if !slices.Contains(allowed, f.Field) {
			return nil, "must be a comma-separated list of " + strings.Join(allowed, ", ") + ", each optionally prefixed with '-'"
		}
		if seen[f.Field] {
			return nil, fmt.Sprintf("names %s more than once", f.Field)
		}
		seen[f.Field] = true
		out = append(out, f)
	}
	return out, ""
}

// pagination is the pagination member of every list response.
type pagination struct {
	Page       int `json:"page"`
	Size       int `json:"size"`
	TotalItems int `json:"total_items"`
	TotalPages int `json:"total_pages"`
}

type listBody[R any] struct {
	Data       []R        `json:"data"`
	Pagination pagination `json:"pagination"`
}

// writePage writes one page of a list, {"data": [...], "pagination": {...}},
// with an RFC 8288 Link header (first, prev, next, last). A page past the
// end has empty data and correct totals.
func writePage[T, R any](s *server, w http.ResponseWriter, r *http.Request, q listQuery, p ports.Page[T], conv func(T) R) {
	data := make([]R, 0, len(p.Items))
	for _, it := range p.Items {
		data = append(data, conv(it))
	}
	pg := pagination{Page: q.Page, Size: q.Size, TotalItems: p.Total}
	pg.TotalPages = (p.Total + q.Size - 1) / q.Size
	w.Header().Set("Link", linkHeader(r.URL, pg))
	s.writeJSON(w, r, http.StatusOK, listBody[R]{Data: data, Pagination: pg})
}

func linkHeader(u *url.URL, pg pagination) string {
	last := max(pg.TotalPages, 1)
	link := func(page int, rel string) string {
		v := u.Query()
		v.Set("page", strconv.Itoa(page))
		v.Set("size", strconv.Itoa(pg.Size))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, u.EscapedPath(), v.Encode(), rel)
	}
	links := []string{link(1, "first")}
	if pg.Page > 1 {
		links = append(links, link(min(pg.Page-1, last), "prev"))
	}
	if pg.Page < pg.TotalPages {
		links = append(links, link(pg.Page+1, "next"))
	}
	links = append(links, link(last, "last"))
	return strings.Join(links, ", ")
}
