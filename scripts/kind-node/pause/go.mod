// The pause program of the offline kind node image: the sandbox container
// every pod starts first. A module of its own (standard library only) so the
// node image build needs no registry and the product module never sees it.
module github.com/novadev/novadev/scripts/kind-node/pause

go 1.24.0
