package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/hub"
)

// Timeouts of the HTTP server. A push of 8 MiB over a slow field link must
// fit in ReadTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 30 * time.Second
)

func serveFlags(fs *flag.FlagSet) {
	fs.String("addr", "127.0.0.1:8470", "address to listen on")
	fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS")
	fs.String("tls-key", "", "TLS private key file (PEM)")
	fs.String("log-format", "text", "log format: text or json")
	fs.Int("max-concurrent", 64, "requests served at once; more wait up to 5s, then get 503")
}

func runServe(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	cert, key := str(fs, "tls-cert"), str(fs, "tls-key")
	if (cert == "") != (key == "") {
		return usagef("give both --tls-cert and --tls-key, or neither")
	}
	var h slog.Handler
	switch f := str(fs, "log-format"); f {
	case "text":
		h = slog.NewTextHandler(env.Stderr, nil)
	case "json":
		h = slog.NewJSONHandler(env.Stderr, nil)
	default:
		return usagef("--log-format must be text or json, not %q", f)
	}
	maxConc, err := strconv.Atoi(str(fs, "max-concurrent"))
	if err != nil || maxConc < 1 {
		return usagef("--max-concurrent must be 1 or more")
	}
	log := slog.New(h)

	store, err := openStore(ctx, fs, true)
	if err != nil {
		return err
	}
	defer store.Close()
	srv := hub.New(hub.Config{Store: store, Logger: log, Now: env.Now, MaxConcurrent: maxConc})
	ln, err := net.Listen("tcp", str(fs, "addr"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	storeKind := "badger"
	if str(fs, "postgres") != "" {
		storeKind = "postgres"
	}
	addr := ln.Addr().String()
	log.Info("listening", slog.String("addr", addr), slog.String("store", storeKind), slog.Bool("tls", cert != ""))
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && cert == "" && !tcp.IP.IsLoopback() {
		log.Warn("serving plain HTTP on a non-loopback address: device tokens cross the network in clear; use --tls-cert/--tls-key or a TLS proxy")
	}
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- hs.ServeTLS(ln, cert, key)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	if env.Ready != nil {
		env.Ready(addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for requests in flight")
	timeout := env.ShutdownTimeout
	if timeout <= 0 {
		timeout = shutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutErr := hs.Shutdown(sctx)
	if shutErr != nil {
		// Cut off what is left (this cancels the requests' contexts), but
		// never close the store under a handler still using it.
		log.Warn("requests still in flight at the shutdown timeout; cutting them off", slog.Duration("timeout", timeout))
		hs.Close()
	}
	srv.Drain()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	if shutErr != nil {
		return fmt.Errorf("shutdown: requests in flight after %s were cut off: %w", timeout, shutErr)
	}
	log.Info("stopped")
	return nil
}

func runFormPublish(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if len(args) != 1 {
		return usagef("give exactly one form definition file")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	f, err := forms.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if !programmeRE.MatchString(f.Programme) {
		return fmt.Errorf("%s: \"programme\" must name the programme the form is for (ISO 3166-1 alpha-3, e.g. LAO), not %q", args[0], f.Programme)
	}
	var def bytes.Buffer
	if err := json.Compact(&def, b); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	s, err := openStore(ctx, fs, true)
	if err != nil {
		return err
	}
	defer s.Close()
	// The new version must fit with the built-ins and what is published.
	reg := forms.NewRegistry()
	for _, bf := range forms.Builtin().All() {
		if err := reg.Add(bf); err != nil {
			return err
		}
	}
	pub, err := s.PublishedForms(ctx, f.Programme)
	if err != nil {
		return err
	}
	for _, p := range pub {
		pf, err := forms.Parse(p.Def)
		if err != nil {
			return fmt.Errorf("published form %s version %d: %w", p.FormID, p.Version, err)
		}
		if err := reg.Add(pf); err != nil {
			return err
		}
	}
	if err := reg.Add(f); err != nil {
		return fmt.Errorf("form %s version %d is already published for %s or built in, with other content; publish a new version (%w)", f.ID, f.Version, f.Programme, err)
	}
	err = s.PublishForm(ctx, hub.PublishedForm{Programme: f.Programme, FormID: f.ID, Version: f.Version,
		Def: def.Bytes(), PublishedAt: env.Now().UTC()})
	if errors.Is(err, hub.ErrExists) {
		return fmt.Errorf("form %s version %d is already published for %s with other content; publish a new version", f.ID, f.Version, f.Programme)
	} else if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "form %s version %d published for %s\n", f.ID, f.Version, f.Programme)
	return nil
}
