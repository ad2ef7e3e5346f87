// Pins Istio's API (its .proto files and CRDs) for the build: proto/istio_api.cmake
// runs `go mod download -json istio.io/api` here and compiles the protos from the
// module cache. Nothing of the module is committed. Go code never builds here.
module keel.invalid/istio-api

go 1.22

require istio.io/api v1.32.0
