// Command transfer serves the example Transfer function (package examples) on $PORT
// (default 8080) or on -listen.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/aft-shim/aft/sdk/examples"
)

func main() {
	listen := flag.String("listen", ":"+env("PORT", "8080"), "listen address")
	flag.Parse()
	log.Printf("transfer: listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, examples.Transfer()))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
