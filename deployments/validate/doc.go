// Package validate checks OrgStack's deployment files without a container
// engine or a cluster: the Dockerfiles (BuildKit's own parser), the compose
// file (compose-go, as `docker compose` loads it) and the Kubernetes
// manifests (kustomize builds every overlay offline; every object is decoded
// strictly into the k8s.io/api types). Each check compares the files with
// the real program: the variables bootstrap reads, the commands its CLI
// runs, the paths its health endpoints answer.
//
// It is a module of its own so that the service's go.mod does not carry
// compose-go, kustomize, BuildKit and the Kubernetes API types. Run it with
//
//	cd deployments/validate && go test ./...
package validate
