// Command server runs billing-api: made by `devctl new service billing-api --template go-connect`.
package main

import (
	"log/slog"
	"net/http"
	"os"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"example.com/devctl/services/billing-api/internal/billing_api"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8100"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ready"}`)) })
	billing_api.Register(mux)
	slog.Info("starting", "service", "billing-api", "port", port)
	// h2c: HTTP/2 without TLS, as the edge and other services call it.
	if err := http.ListenAndServe("127.0.0.1:"+port, h2c.NewHandler(mux, &http2.Server{})); err != nil {
		slog.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
