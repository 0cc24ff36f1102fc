module example.com/devctl/services/billing-api

go 1.22

require (
	connectrpc.com/connect v1.18.1
	golang.org/x/net v0.30.0
)
