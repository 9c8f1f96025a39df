// Command orgstack is the OrgStack organization and access-management API.
package main

func main() {}
