// Command orgstack is the OrgStack organization and access-management API.
// Everything happens in package bootstrap; main only hands over the
// arguments and exits once, with the code it gets back.
package main

import (
	"os"

	"github.com/orgstack/orgstack/bootstrap"
)

func main() { os.Exit(bootstrap.Main(os.Args[1:], os.Stdout, os.Stderr)) }
