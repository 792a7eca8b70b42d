package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ccmcollect/ccmcollect/storage"
)

func init() {
	register(Command{
		Name: "backup", Usage: "--out F",
		Summary: "Writes an encrypted backup of the local store to F; it opens with the current passphrase.",
		Run:     runBackup,
	})
	register(Command{
		Name: "restore", Usage: "F [--force]",
		Summary: "Restores the local store from backup F (asks for the passphrase the backup was made with); " +
			"refuses to replace an existing store unless --force.",
		Run: runRestore,
	})
}

func runBackup(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("backup")
	out := fs.String("out", "", "backup file")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return usageError("--out F is required")
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	dir := filepath.Dir(*out)
	f, err := os.CreateTemp(dir, ".backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := st.Backup(ctx, f); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(env.Stdout, "backup written to %s\n", *out)
	return nil
}

func runRestore(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("restore")
	force := fs.Bool("force", false, "replace an existing store")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("one backup file is required")
	}
	if storage.Exists(env.DataDir) && !*force {
		return fmt.Errorf("%s already holds a store: %w (use --force to replace it)", env.DataDir, storage.ErrExists)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	pass, err := readPassphrase(env, false)
	if err != nil {
		return err
	}
	// Restore beside the data directory first, so a failed restore leaves
	// the existing store untouched.
	parent := filepath.Dir(filepath.Clean(env.DataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".restore-*")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := storage.Restore(ctx, tmp, f, pass); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if storage.Exists(env.DataDir) {
		old := fmt.Sprintf("%s.replaced-%s", filepath.Clean(env.DataDir), recordClock(env).UTC().Format("20060102T150405"))
		if err := os.Rename(env.DataDir, old); err != nil {
			return fmt.Errorf("restore: moving the old store aside: %w", err)
		}
		fmt.Fprintf(env.Stdout, "the previous store was moved to %s\n", old)
	} else if err := os.RemoveAll(env.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, env.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(env.Stdout, "restored into %s at %s\n", env.DataDir, recordClock(env).UTC().Format(time.RFC3339))
	return nil
}
