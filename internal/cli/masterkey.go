package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/store"
)

// sealedSets are the values sealed under the master key outside the
// credentials table, which a rotation re-seals.
func sealedSets(rt *runtime) []core.SealedSet {
	return []core.SealedSet{
		ca.New(rt.cfg.CA, ca.DepsFrom(rt.svc)).SealedKeys(),
		taap.SealedIDKeys(rt.svc.Store, rt.svc.Keys),
		gateway.SealedIdentityKeys(rt.svc.Store, rt.svc.Keys),
	}
}

// newRotateMasterKeyCmd is `authgate admin rotate-master-key`.
func newRotateMasterKeyCmd(g *globalFlags) *cobra.Command {
	var settle time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-master-key",
		Short: "Make master_key_file's key the active master key and re-seal every sealed secret under it (online)",
		Long: `Makes the key of master_key_file (or --master-key-file) the database's active master key and
re-seals every sealed secret under it, while the nodes keep serving. The previous key must stay in
previous_master_key_files on every node until 'authgate admin master-key retire' accepts to retire it:
keyed hashes move to the new key on their next successful use. Every running node must know the new
key first; the command refuses otherwise. See docs/operations.md, Rotate.`,
		Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			lock, err := store.LockRotation(cmd.Context(), rt.svc.Store, rt.cfg.DB, rt.cfg.DataDir)
			if err != nil {
				return nil, err
			}
			defer lock.Close()
			if !cmd.Flags().Changed("settle") {
				settle = 2 * rt.cfg.MasterKeyRefresh
			}
			return rt.svc.RotateMasterKey(cmd.Context(), core.RotateOptions{
				Settle: settle, NodeMaxAge: 3 * rt.cfg.MasterKeyRefresh, Sets: sealedSets(rt),
			})
		}),
	}
	cmd.Flags().DurationVar(&settle, "settle", 0, "wait after switching before re-sealing, for every node to follow (default: twice master_key_refresh)")
	return cmd
}

// newMasterKeyCmd is `authgate admin master-key`.
func newMasterKeyCmd(g *globalFlags) *cobra.Command {
	mk := &cobra.Command{Use: "master-key", Short: "Master keys: generate, status, retire (see also rotate-master-key)"}
	var out string
	gen := &cobra.Command{
		Use: "generate", Short: "Write a new random master key to a file (mode 0600) and print its id", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key := make([]byte, core.MasterKeySize)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return core.E(core.KindConflict, out+" exists: a master key file is never overwritten")
				}
				return err
			}
			if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return printOut(cmd, map[string]string{"file": out, "key_id": core.KeyID(key)})
		},
	}
	gen.Flags().StringVar(&out, "out", "", "file to create")
	_ = gen.MarkFlagRequired("out")
	status := &cobra.Command{
		Use: "status", Short: "Count, per master key, the stored values that still need it", Args: cobra.NoArgs,
		RunE: withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
			return rt.svc.MasterKeyStatus(cmd.Context(), sealedSets(rt))
		}),
	}
	retire := &cobra.Command{
		Use: "retire KEY_ID", Short: "Retire a master key nothing needs any more (refused while values still need it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRuntime(g, func(cmd *cobra.Command, rt *runtime) (any, error) {
				lock, err := store.LockRotation(cmd.Context(), rt.svc.Store, rt.cfg.DB, rt.cfg.DataDir)
				if err != nil {
					return nil, err
				}
				defer lock.Close()
				return rt.svc.RetireMasterKey(cmd.Context(), args[0], sealedSets(rt), rt.cfg.ReadCacheMaxAge)
			})(cmd, args)
		},
	}
	mk.AddCommand(gen, status, retire)
	return mk
}
