// Package billing_api implements billing_api.v1.BillingApiService.
package billing_api

import (
	"encoding/json"
	"net/http"
)

// Register adds the service's routes. Replace the JSON handler with the connect-go handler
// generated from proto/billing_api/v1 once buf.gen.yaml has a protoc-gen-connect-go plugin.
func Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /billing_api.v1.BillingApiService/Hello", hello)
}

type helloRequest struct {
	Name string `json:"name"`
}

type helloResponse struct {
	Message string `json:"message"`
}

func hello(w http.ResponseWriter, r *http.Request) {
	var request helloRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&request); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":"invalid_argument","message":"expected {\"name\": …}"}`))
		return
	}
	if request.Name == "" {
		request.Name = "World"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(helloResponse{Message: "Hello " + request.Name + "!"})
}
