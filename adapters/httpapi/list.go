package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/orgstack/orgstack/ports"
)

// listQuery is a parsed list request.
type listQuery struct {
	ports.PageRequest
	filters map[string]string
}

func (q listQuery) filter(name string) string { return q.filters[name] }

// parseList is THE list-query parser: page (1 to ports.MaxPage, default 1),
// size (1 to ports.MaxPageSize, default ports.DefaultPageSize), sort (a
// comma list of the list's sort fields, '-' for descending, a repeated field
// decided by its first mention) and the list's filters, all by the list's
// ports.ListRules. A malformed query string (a ';', a bad percent-escape), or
// any unknown, repeated or invalid parameter, is a 400 invalid_parameter
// naming each offending parameter.
func parseList(r *http.Request, rules ports.ListRules) (listQuery, error) {
	q := listQuery{PageRequest: ports.PageRequest{Page: 1, Size: ports.DefaultPageSize}, filters: map[string]string{}}
	values, problems := parseQuery(r.URL.RawQuery)
	bad := func(name, format string, args ...any) {
		problems = append(problems, paramProblem(name, fmt.Sprintf(format, args...)))
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		if len(vs) != 1 {
			bad(name, "must be given at most once")
			continue
		}
		v := vs[0]
		switch name {
		case "page":
			n, ok := parseInt(v)
			if !ok || n < 1 || n > ports.MaxPage {
				bad(name, "must be an integer from 1 to %d", ports.MaxPage)
				continue
			}
			q.Page = n
		case "size":
			n, ok := parseInt(v)
			if !ok || n < 1 || n > ports.MaxPageSize {
				bad(name, "must be an integer from 1 to %d", ports.MaxPageSize)
				continue
			}
			q.Size = n
		case "sort":
			sort, detail := rules.ParseSort(v)
			if detail != "" {
				bad(name, "%s", detail)
				continue
			}
			q.Sort = sort
		default:
			f, ok := rules.Filters[name]
			if !ok {
				bad(name, "is not a known parameter")
				continue
			}
			if detail := f.Check(v); detail != "" {
				bad(name, "%s", detail)
				continue
			}
			q.filters[name] = v
		}
	}
	if len(problems) > 0 {
		names := make([]string, len(problems))
		for i, p := range problems {
			names[i] = strconv.Quote(p.Parameter)
		}
		return q, newAPIError("invalid_parameter", "invalid query parameter: "+strings.Join(names, ", "), problems...)
	}
	return q, nil
}

// parseQuery splits a raw query string into parameters as
// application/x-www-form-urlencoded does, but refuses what Go's URL parser
// would silently drop: a pair containing ';' (not a separator here, RFC
// 3986 leaves it to the application) and a malformed percent-escape. Each
// such pair is a problem naming its parameter (as far as it can be read).
func parseQuery(raw string) (url.Values, []fieldProblem) {
	values := url.Values{}
	var problems []fieldProblem
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(rawKey)
		value, verr := url.QueryUnescape(rawValue)
		if kerr != nil {
			key = rawKey
		}
		switch {
		case strings.Contains(pair, ";"):
			problems = append(problems, paramProblem(key, "contains ';', which does not separate parameters: encode it as %3B"))
		case kerr != nil || verr != nil:
			problems = append(problems, paramProblem(key, "is not correctly percent-encoded"))
		default:
			values[key] = append(values[key], value)
		}
	}
	return values, problems
}

// parseInt accepts only plain decimal digits.
func parseInt(v string) (int, bool) {
	if v == "" || len(v) > 9 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
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
	if body, ok := appendPageJSON(make([]byte, 0, 512+400*len(data)), data, pg); ok {
		s.writeBody(w, http.StatusOK, append(body, '\n'))
		return
	}
	s.writeJSON(w, r, http.StatusOK, listBody[R]{Data: data, Pagination: pg})
}

func linkHeader(u *url.URL, pg pagination) string {
	last := max(pg.TotalPages, 1)
	v, path, size := u.Query(), u.EscapedPath(), strconv.Itoa(pg.Size)
	link := func(page int, rel string) string {
		v.Set("page", strconv.Itoa(page))
		v.Set("size", size)
		return "<" + path + "?" + v.Encode() + `>; rel="` + rel + `"`
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
