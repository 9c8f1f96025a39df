module github.com/orgstack/orgstack

go 1.26.8
