package web_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/web"
)

// The dashboard is one handler at "/"; other handlers (metrics, status)
// go beside it on the same mux. Close the dashboard before shutting the
// server down: its event streams never go idle by themselves.
func Example() {
	ctx := context.Background()
	n, err := localnet.Start(ctx, localnet.DefaultConfig()) // with Seeds set
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()

	dash := web.New(n, web.Options{})
	mux := http.NewServeMux()
	mux.Handle("/", dash)
	mux.Handle("/metrics", http.NotFoundHandler()) // e.g. promhttp.Handler()
	srv := &http.Server{Addr: "127.0.0.1:8000", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()

	<-ctx.Done()
	dash.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
}
