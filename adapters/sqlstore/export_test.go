package sqlstore

// PostgresHotQueries returns the hot-path statements as PostgreSQL runs
// them ($n placeholders), by name, for plan tests.
func PostgresHotQueries() map[string]string {
	h := newHotQueries(Postgres)
	return map[string]string{
		"access by id":                          h.accessByID,
		"access by slug":                        h.accessBySlug,
		"check by user id":                      h.checkByUserID,
		"check by identity":                     h.checkByIdentity,
		"access and check by id":                h.combined[0],
		"access and check by slug":              h.combined[combinedBySlug],
		"access and check by identity":          h.combined[combinedByIdentity],
		"access and check by slug and identity": h.combined[combinedBySlug|combinedByIdentity],
	}
}
