package tempo

import "net/http"

func (a *API) metricsRange(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "TraceQL metrics queries are not supported yet", http.StatusNotImplemented)
}

func (a *API) metricsInstant(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "TraceQL metrics queries are not supported yet", http.StatusNotImplemented)
}
