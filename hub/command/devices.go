package command

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

func deviceAddFlags(fs *flag.FlagSet) {
	fs.String("programme", "", "ISO 3166-1 alpha-3 code of the programme, e.g. LAO")
	fs.String("name", "", "a name people recognise the device by")
	fs.String("role", protocol.RoleCollector, "collector (push and pull) or viewer (pull only)")
}

func runDeviceAdd(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	prog, name, role := str(fs, "programme"), str(fs, "name"), str(fs, "role")
	switch {
	case !programmeRE.MatchString(prog):
		return usagef("--programme must be an ISO 3166-1 alpha-3 code such as LAO, not %q", prog)
	case name == "" || !utf8.ValidString(name) || len(name) > 200:
		return usagef("--name must be 1 to 200 characters")
	case role != protocol.RoleCollector && role != protocol.RoleViewer:
		return usagef("--role must be collector or viewer, not %q", role)
	}
	s, err := openStore(ctx, fs, true)
	if err != nil {
		return err
	}
	defer s.Close()
	token, hash := hub.NewToken()
	d := hub.Device{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Programme: prog, Role: role,
		TokenHash: hash, CreatedAt: env.Now().UTC()}
	if err := s.AddDevice(ctx, d); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "device %s added: %q, programme %s, role %s\n", d.ID, d.Name, d.Programme, d.Role)
	fmt.Fprintln(env.Stdout, "Its token follows. It is shown only this once; give it to the device:")
	fmt.Fprintln(env.Stdout, token)
	return nil
}

func runDeviceList(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	s, err := openStore(ctx, fs, false)
	if err != nil {
		return err
	}
	defer s.Close()
	devs, err := s.Devices(ctx)
	if err != nil {
		return err
	}
	if fs.Lookup("json").Value.String() == "true" {
		if devs == nil {
			devs = []hub.Device{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(devs)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPROGRAMME\tROLE\tCREATED\tREVOKED")
	for _, d := range devs {
		revoked := "-"
		if d.Revoked() {
			revoked = d.RevokedAt.Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Programme, d.Role,
			d.CreatedAt.Format("2006-01-02T15:04:05Z"), revoked)
	}
	return tw.Flush()
}

func runDeviceRevoke(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if len(args) != 1 {
		return usagef("give exactly one device id")
	}
	s, err := openStore(ctx, fs, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.RevokeDevice(ctx, args[0], env.Now().UTC()); err != nil {
		if errors.Is(err, hub.ErrNotFound) {
			return fmt.Errorf("no device %q (see ccmhub device list)", args[0])
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "device %s revoked\n", args[0])
	return nil
}
