// Command order serves the example Order function (package examples) on $PORT (default
// 8080) or on -listen. It calls the Reserve function at $RESERVE_URL or -reserve-url.
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
	reserve := flag.String("reserve-url", os.Getenv("RESERVE_URL"), "URL of the reserve function")
	flag.Parse()
	if *reserve == "" {
		log.Fatal("order: set RESERVE_URL or -reserve-url to the URL of the reserve function")
	}
	log.Printf("order: listening on %s, reserve at %s", *listen, *reserve)
	log.Fatal(http.ListenAndServe(*listen, examples.Order{ReserveURL: *reserve}))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
